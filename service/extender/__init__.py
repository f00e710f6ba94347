"""The Kubernetes scheduler extender: kube-scheduler asks qsched over HTTP where pods go.

kube-scheduler POSTs ``extender/v1`` JSON (filter, prioritize, preempt, bind);
the extender maps pods to tasks and nodes to machines (`mapping`), keeps the
cluster it watches (`cluster`), plans the pending pods as one allocation problem
(`planner`) and answers each call from that plan (`app`).
"""
