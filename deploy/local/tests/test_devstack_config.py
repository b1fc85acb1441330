"""devstack's aligner replicas: names, ports, environments and DEVSTACK_ALIGNER_REPLICAS
(no process started: the end-to-end side is tests/e2e/test_replicas.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from devstack.cli import main
from devstack.config import (
    DEFAULT_PORTS,
    SERVICES,
    Secrets,
    StackConfig,
    port_free,
    service_env,
)
from devstack.stack import Stack

SECRETS = Secrets(
    db_passwords={service: f"pw-{service}" for service in SERVICES},
    s3_access_key="access",
    s3_secret_key="secret",
    jwt_private_key_file=Path("/nonexistent/jwt.pem"),
    jwt_public_key_file=Path("/nonexistent/jwt.pub.pem"),
    stream_token_secret="s" * 43,
)


def test_one_replica_by_default_is_the_stack_as_before(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    assert config.aligner_replicas == 1
    assert config.aligner_names() == ("aligner",)
    assert config.process_names() == SERVICES
    assert config.ports == DEFAULT_PORTS
    env = service_env(config, SECRETS, "aligner")
    assert env["ALIGNER_HTTP_PORT"] == "8003"
    assert env["ALIGNER_WORKER_NAME"] == "aligner"


def test_replicas_are_named_and_started_in_the_aligners_place(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, aligner_replicas=3)
    assert config.aligner_names() == ("aligner", "aligner-2", "aligner-3")
    assert config.process_names() == (
        "auth",
        "storage",
        "aligner",
        "aligner-2",
        "aligner-3",
        "janitor",
        "notifier",
        "gateway",
    )
    assert config.service_of("aligner-3") == "aligner"
    assert config.service_of("gateway") == "gateway"
    with pytest.raises(KeyError):
        config.service_of("aligner-4")
    assert config.log_file("aligner-2") == tmp_path / "logs" / "aligner-2.log"


def test_each_replica_gets_a_distinct_free_port_after_the_aligners(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, aligner_replicas=10)
    names = config.aligner_names()
    assert config.ports["aligner"] == DEFAULT_PORTS["aligner"]  # replica 1 keeps its port
    ports = [config.ports[name] for name in names]
    assert len(set(config.ports.values())) == len(config.ports) == len(SERVICES) + 9
    s3 = {config.s3_port + i for i in range(5)} | {config.s3_port + 10000 + i for i in range(5)}
    for port in ports[1:]:
        assert port > DEFAULT_PORTS["aligner"]
        assert port not in s3
        assert port_free(port)
    assert ports == sorted(ports)


def test_a_port_something_listens_on_is_skipped(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        busy = listener.getsockname()[1]
        ports = {"gateway": 1, "auth": 2, "storage": 3, "aligner": busy - 2, "janitor": busy - 1}
        config = StackConfig(state_dir=tmp_path, ports=ports, aligner_replicas=2)
        assert not port_free(busy)
        assert config.ports["aligner-2"] > busy


def test_given_ports_are_kept(tmp_path: Path) -> None:
    ports = dict(DEFAULT_PORTS) | {"aligner-2": 9102, "aligner-3": 9103}
    config = StackConfig(state_dir=tmp_path, ports=ports, aligner_replicas=3)
    assert config.ports["aligner-2"] == 9102
    assert config.ports["aligner-3"] == 9103


def test_each_replica_has_its_own_port_and_name_and_the_aligners_settings(tmp_path: Path) -> None:
    config = StackConfig(
        state_dir=tmp_path,
        aligner_replicas=3,
        extra_env={
            "aligner": {"ALIGNER_MAX_ATTEMPTS": "3"},
            "aligner-3": {"ALIGNER_LOG_LEVEL": "DEBUG"},
        },
    )
    envs = {name: service_env(config, SECRETS, name) for name in config.aligner_names()}
    for name, env in envs.items():
        assert env["ALIGNER_HTTP_PORT"] == str(config.ports[name])
        assert env["ALIGNER_WORKER_NAME"] == name
        assert env["ALIGNER_MAX_ATTEMPTS"] == "3"
        # One service, so one schema, one MySQL user, one namespace and bucket.
        for key in ("ALIGNER_DB_URL", "ALIGNER_AMQP_URL", "ALIGNER_S3__BUCKET"):
            assert env[key] == envs["aligner"][key]
        assert all(key.startswith("ALIGNER_") for key in env)
    assert len({env["ALIGNER_HTTP_PORT"] for env in envs.values()}) == 3
    assert envs["aligner-3"]["ALIGNER_LOG_LEVEL"] == "DEBUG"
    assert "ALIGNER_LOG_LEVEL" not in envs["aligner-2"]
    assert not any(key.endswith("WORKER_NAME") for key in service_env(config, SECRETS, "storage"))


def test_the_aligners_extra_settings_do_not_move_a_replicas_port(tmp_path: Path) -> None:
    config = StackConfig(
        state_dir=tmp_path,
        aligner_replicas=2,
        extra_env={"aligner": {"ALIGNER_HTTP_PORT": "9999", "ALIGNER_WORKER_NAME": "x"}},
    )
    env = service_env(config, SECRETS, "aligner-2")
    assert env["ALIGNER_HTTP_PORT"] == str(config.ports["aligner-2"])
    assert env["ALIGNER_WORKER_NAME"] == "aligner-2"


def test_replicas_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DEVSTACK_ALIGNER_REPLICAS", raising=False)
    assert StackConfig.from_env(tmp_path).aligner_replicas == 1
    monkeypatch.setenv("DEVSTACK_ALIGNER_REPLICAS", "3")
    config = StackConfig.from_env(tmp_path)
    assert config.aligner_names() == ("aligner", "aligner-2", "aligner-3")
    assert len(set(config.ports.values())) == len(SERVICES) + 2


@pytest.mark.parametrize("value", ["0", "11", "-1", "two", "", "2.5"])
def test_replicas_out_of_range_are_refused(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEVSTACK_ALIGNER_REPLICAS", value)
    with pytest.raises(ValueError, match="DEVSTACK_ALIGNER_REPLICAS must be"):
        StackConfig.from_env(tmp_path)
    with pytest.raises(ValueError):
        StackConfig(state_dir=tmp_path, aligner_replicas=11)


def test_devstack_run_says_why_it_refuses_a_replica_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DEVSTACK_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("DEVSTACK_ALIGNER_REPLICAS", "0")
    assert main(["run"]) == 2
    error = capsys.readouterr().err
    assert "DEVSTACK_ALIGNER_REPLICAS must be a whole number from 1 to 10" in error


def test_stack_names_urls_and_env_of_replicas(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    config.aligner_replicas = 2  # changed after it was made: the stack gives the port
    stack = Stack(config)
    assert stack.aligner_names() == ("aligner", "aligner-2")
    assert stack.names() == config.process_names()
    assert stack.url("aligner-2") == f"http://127.0.0.1:{config.ports['aligner-2']}"
    env = stack.env("aligner-2")
    assert env["ALIGNER_WORKER_NAME"] == "aligner-2"
    assert env["ALIGNER_HTTP_PORT"] == str(config.ports["aligner-2"])
    assert env["ALIGNER_DB_URL"] == stack.env("aligner")["ALIGNER_DB_URL"]


def test_the_gateway_gets_a_stream_token_secret_made_once_per_state_folder(
    tmp_path: Path,
) -> None:
    made = Secrets.load_or_create(tmp_path)
    assert len(made.stream_token_secret) >= 32
    assert Secrets.load_or_create(tmp_path).stream_token_secret == made.stream_token_secret
    env = service_env(StackConfig(state_dir=tmp_path), made, "gateway")
    assert env["GATEWAY_STREAM_TOKEN_SECRET"] == made.stream_token_secret
    assert "GATEWAY_STREAM_TOKEN_SECRET" not in service_env(
        StackConfig(state_dir=tmp_path), made, "auth"
    )


def test_the_notifier_may_call_webhooks_on_this_machine(tmp_path: Path) -> None:
    """make dev and the test stacks allow loopback webhook targets; nothing else."""
    env = service_env(StackConfig(state_dir=tmp_path), SECRETS, "notifier")
    assert env["NOTIFIER_ALLOWED_NETWORKS"] == "127.0.0.0/8,::1/128"
    assert env["NOTIFIER_HTTP_PORT"] == "8005"
    assert "NOTIFIER_S3__BUCKET" not in env


def test_a_state_folder_from_before_a_service_was_added_gets_its_password(
    tmp_path: Path,
) -> None:
    import json

    from devstack.config import Secrets

    Secrets.load_or_create(tmp_path)
    path = tmp_path / "secrets.json"
    stored = json.loads(path.read_text())
    del stored["db_passwords"]["notifier"]
    path.write_text(json.dumps(stored))
    again = Secrets.load_or_create(tmp_path)
    assert again.db_passwords["notifier"]
    assert again.db_passwords["auth"] == stored["db_passwords"]["auth"]
