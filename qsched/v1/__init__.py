"""Generated from proto/qsched/v1 by tools/gen_proto.py; do not edit."""
