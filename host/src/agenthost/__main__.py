"""``python -m agenthost`` runs the command line."""

from agenthost.cli import main

main()
