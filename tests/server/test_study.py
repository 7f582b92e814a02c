"""The A/B study: trials, choices in SQLite, win rates with Wilson intervals, ``adain study report``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from adain.cli.main import main
from adain.errors import UsageError
from adain.server import ServerConfig, create_app
from adain.server.study import StudyStore, format_report, study_report, wilson_interval

STYLE = "antimonocromatismo"


@pytest.fixture
def study_config(tmp_path: Path, server_config: ServerConfig) -> ServerConfig:
    plan = {"configurations": {"strong": {"alpha": 1.0}, "weak": {"alpha": 0.3}}, "styles": [STYLE], "size": 32}
    path = tmp_path / "study.json"
    path.write_text(json.dumps(plan))
    return replace(server_config, study_config=path)


class TestStatistics:
    def test_wilson_interval(self) -> None:
        assert [round(x, 4) for x in wilson_interval(8, 10)] == [0.4902, 0.9433]
        assert wilson_interval(0, 0) == (0.0, 1.0)
        low, high = wilson_interval(10, 10)
        assert high == pytest.approx(1.0) and round(low, 4) == 0.7225
        assert wilson_interval(0, 10)[0] == 0.0
        three, seven = wilson_interval(3, 10), wilson_interval(7, 10)
        assert three[0] == pytest.approx(1 - seven[1]) and three[1] == pytest.approx(1 - seven[0])
        assert (
            wilson_interval(50, 100)[1] - wilson_interval(50, 100)[0]
            < wilson_interval(5, 10)[1] - wilson_interval(5, 10)[0]
        )

    def test_report(self) -> None:
        decisions = [("a", "b", "a")] * 6 + [("b", "a", "b")] * 2 + [("a", "c", "c")] * 2
        report = study_report(decisions)
        assert report["trials"] == 10
        rates = {item["configuration"]: item for item in report["configurations"]}
        assert (rates["a"]["wins"], rates["a"]["comparisons"]) == (6, 10)
        assert (rates["b"]["wins"], rates["b"]["comparisons"]) == (2, 8)
        assert (rates["c"]["wins"], rates["c"]["comparisons"]) == (2, 2)
        assert rates["a"]["ci95"] == list(wilson_interval(6, 10))
        head = {(i["configuration"], i["against"]): (i["wins"], i["comparisons"]) for i in report["head_to_head"]}
        assert head == {("a", "b"): (6, 8), ("a", "c"): (0, 2)}
        text = format_report(report)
        assert "10 decided trials" in text and "a vs b" in text and "75.0%" in text
        assert format_report(study_report([])) == "no decided trials yet"


class TestStudyApi:
    def test_trial_render_choose_report(
        self, make_client: Callable[..., TestClient], study_config: ServerConfig, decoded: Callable[[bytes], np.ndarray]
    ) -> None:
        client = make_client(study_config)
        trial = client.post("/v1/study/trials").json()
        assert set(trial) == {"id", "content", "style", "images"}  # which configuration is which stays hidden
        assert trial["style"] == STYLE and trial["content"] in {"astronaut", "coffee", "chelsea", "rocket"}
        left, right = (client.get(trial["images"][side]) for side in ("left", "right"))
        assert left.status_code == right.status_code == 200 and left.headers["content-type"] == "image/png"
        assert min(decoded(left.content).shape[:2]) == 32
        assert not np.array_equal(decoded(left.content), decoded(right.content))
        assert client.get(trial["images"]["left"]).content == left.content
        choice = client.post(f"/v1/study/trials/{trial['id']}/choice", json={"winner": "left"})
        assert choice.status_code == 200 and choice.json()["recorded"] is True
        assert (
            client.post(f"/v1/study/trials/{trial['id']}/choice", json={"winner": "right"}).json()["error"]
            == "already_decided"
        )
        assert client.post(f"/v1/study/trials/{trial['id']}/choice", json={"winner": "middle"}).status_code == 422
        assert (
            client.post(f"/v1/study/trials/{'0' * 32}/choice", json={"winner": "left"}).json()["error"]
            == "unknown_trial"
        )
        assert client.get("/v1/study/trials/../../etc/left").status_code == 404
        assert client.get(f"/v1/study/trials/{trial['id']}/top").status_code == 404
        stored = StudyStore(study_config.study_db).trial(trial["id"])
        report = client.get("/v1/study/report").json()
        assert report["trials"] == 1
        assert {i["configuration"]: i["wins"] for i in report["configurations"]} == {stored.left: 1, stored.right: 0}

    def test_sides_are_shuffled(self, make_client: Callable[..., TestClient], study_config: ServerConfig) -> None:
        client = make_client(study_config)
        store = StudyStore(study_config.study_db)
        lefts = {store.trial(client.post("/v1/study/trials").json()["id"]).left for _ in range(40)}
        assert lefts == {"strong", "weak"}

    @pytest.mark.parametrize(
        ("plan", "words"),
        [
            ({"configurations": {"only": {"alpha": 1.0}}}, "at least 2"),
            ({"configurations": {"a": {"alpha": 1.0}, "b": {"strength": 2}}}, "unknown option"),
            ({"configurations": {"a": {"alpha": 1.0}, "b": {"alpha": 3}}}, "alpha"),
            ({"styles": ["no-such-style"]}, "no-such-style"),
            ({"colour": "red"}, "unknown key"),
        ],
    )
    def test_bad_study_file_fails_start_up(
        self, tmp_path: Path, server_config: ServerConfig, random_pipeline: Any, plan: dict[str, Any], words: str
    ) -> None:
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(plan))
        with pytest.raises(UsageError, match=words):
            create_app(replace(server_config, study_config=path), random_pipeline)

    def test_study_without_content_is_a_503(
        self, make_client: Callable[..., TestClient], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from adain.errors import AdainError
        from adain.server import app as app_module

        def no_content(folder: Any) -> dict[str, Any]:
            raise AdainError("the demo needs scikit-image")

        monkeypatch.setattr(app_module, "study_contents", no_content)
        client = make_client()
        response = client.post("/v1/study/trials")
        assert response.status_code == 503 and response.json()["error"] == "study_unavailable"
        assert "--study-content" in response.json()["detail"]

    def test_study_content_folder(
        self,
        make_client: Callable[..., TestClient],
        study_config: ServerConfig,
        tmp_path: Path,
        png: Callable[..., bytes],
    ) -> None:
        folder = tmp_path / "photos"
        (folder / "sub").mkdir(parents=True)
        (folder / "sub" / "beach.png").write_bytes(png(40, 30))
        client = make_client(replace(study_config, study_content=folder))
        trial = client.post("/v1/study/trials").json()
        assert trial["content"] == "sub/beach.png"
        assert client.get(trial["images"]["right"]).status_code == 200


class TestReportCommand:
    def test_report(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        import random

        from adain.server.study import StudyPlan

        store = StudyStore(tmp_path / "study.sqlite")
        plan = StudyPlan()
        rng = random.Random(0)
        for _ in range(20):
            trial = store.new_trial(plan, ["photo"], ["style"], rng)
            store.choose(trial.id, "left" if trial.left == "alpha-1.0" or trial.right == "alpha-0.6" else "right")
        assert main(["study", "report", "--db", str(tmp_path / "study.sqlite")]) == 0
        text = capsys.readouterr().out
        assert "20 decided trials" in text and "95% CI (Wilson)" in text and "alpha-1.0 vs" in text
        assert main(["study", "report", "--db", str(tmp_path / "study.sqlite"), "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["trials"] == 20 and sum(i["wins"] for i in report["configurations"]) == 20

    def test_missing_or_corrupt_database(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["study", "report", "--db", str(tmp_path / "none.sqlite")]) == 1
        assert "no study database" in capsys.readouterr().err
        (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
        assert main(["study", "report", "--db", str(tmp_path / "junk.sqlite")]) == 1
        err = capsys.readouterr().err
        assert "cannot read the study database" in err and "Traceback" not in err
