"""The `shipyard` command line, one module per area; `cli.main` puts them together. It sits above the core
(`shipyard/`) and may import Prefect, `flows`, `tasks` and `deployments`, inside the commands that need them."""
