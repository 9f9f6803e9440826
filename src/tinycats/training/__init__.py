"""What both trainers share: EMA, checkpoints, LR schedule, distributed helpers, logging."""
