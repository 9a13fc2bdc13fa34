"""The head of the smallest pipeline config the release tests share: one Python app, `api`, with one check.

No braces in it, so a test can append its own part and `.format()` the whole."""

from tests.support.colours import SERVER

API_APP = """\
version: 1
project: demo
apps:
  api:
    path: apps/api
    toolchain: python
    versions: ["3.11"]
    lockfile: requirements.lock
    checks:
      lint: ruff check .
"""


# + production with one target, whose YAML (indented six spaces) fills {target}.
ONE_TARGET = (
    API_APP
    + """\
environments:
  production:
    target:
{target}"""
)

# + serve with the colour stand-in and production on the local backend; format with python, router, blue, green.
LOCAL_PRODUCTION = (
    API_APP
    + """\
    serve:
      command: {python} """
    + str(SERVER)
    + """ {{port}} $SHIPYARD_COLOUR
      smoke:
        - {{path: /health, json_field: colour}}
environments:
  production:
    target:
      backend: local
      ports:
        api: {{router: {router}, blue: {blue}, green: {green}}}
"""
)
