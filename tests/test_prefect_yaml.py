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


def test_untrusted_work_and_the_deploy_flows_never_share_a_work_pool() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    pools = {d["name"]: d["work_pool"]["name"] for d in spec["deployments"]}
    untrusted = {pools["pr-checks"]}
    deploying = ("staging-deploy", "production-deploy", "rollback", "rollout-command", "nightly")
    protected = {pools[name] for name in deploying}
    assert untrusted == {"shipyard-checks"} and protected == {"shipyard-deploy"}
    assert set(pools) == {"pr-checks", *deploying}


def test_the_checks_a_deploy_flow_runs_are_not_a_deployment_any_api_call_could_start_elsewhere() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert not [d for d in spec["deployments"] if d["entrypoint"].endswith(":release_checks")]
