"""``python -m tinycats`` (what torchrun runs: ``torchrun ... -m tinycats train generator``)."""

from tinycats.cli.main import main

main()
