"""A testing kit, as ``dimod.testing`` is for samplers: the solver contract checks a plugin
author can run on a solver, a replica of kube-scheduler's extender client and a fake
Kubernetes API server. The product never imports it."""
