"""Training and evaluation engine: configs, the training loop (single process or torchrun DDP),
checkpoints, evaluation and the synthetic demo. Commands: `pyhpe train|eval|demo`."""
