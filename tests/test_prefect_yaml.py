from pathlib import Path

import yaml
from prefect.flows import Flow, load_flow_from_entrypoint

ROOT = Path(__file__).parents[1]


def test_every_deployment_points_at_a_flow_of_the_same_name() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert spec["deployments"]
    for deployment in spec["deployments"]:
        flow: Flow[..., object] = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
        assert flow.name == deployment["name"]
