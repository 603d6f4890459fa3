"""``python -m convoflow.scripts.create_initial_templates``: the same as ``convoflow seed``."""

from convoflow.cli import seed_command

if __name__ == "__main__":
    seed_command()
