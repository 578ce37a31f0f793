"""``python -m harness``: the CLI, for launchers that start a module (accelerate, torchrun)."""

from harness.cli import main

if __name__ == "__main__":
    main()
