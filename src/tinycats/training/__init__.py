"""What every trainer shares: the loop, EMA, checkpoints, LR schedule, ranks, logging."""
