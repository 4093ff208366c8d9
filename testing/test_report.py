"""The HTML report's files and content over three real runs (green, failing, partial) of
the plugin with the fake runner, and its pure parts: verdict, causes, hints, record text."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from conftest import Project, ReportRuns
from pytest_irp.html import model, render
from pytest_irp.html.hints import hint_for
from pytest_irp.html.text import clean_output, command_text, plain_cause
from pytest_irp.report import CheckRecord
from pytest_irp.stage import Finding, StageResult


def test_green_full_run_publishes_latest(report_runs: ReportRuns) -> None:
    page = report_runs.green.read_text()
    assert "<h1>PASSED</h1>" in page, report_runs.outputs["green"][-3000:]
    assert "11 of 11 required criteria passed" in page
    assert "T12 optional, skipped" in page
    latest = report_runs.green_dir / "latest.html"
    assert latest.is_file()
    assert (report_runs.green_dir / "latest" / "index.html").is_file()


def test_failing_full_run_opens_on_the_root_cause(report_runs: ReportRuns) -> None:
    page = report_runs.failing.read_text()
    assert "<h1>FAILED</h1>" in page
    root = page[page.index('id="root-cause"') : page.index('id="criteria"')]
    assert "Fix list: " in root  # every independent problem, in pipeline order
    first = root[root.index('id="problem-1"') : root.index("</li>")]
    assert "<b>T06" in first
    assert "on <b>haskelseed</b>" in first
    assert "stage source" in first
    assert "Connection refused" in root
    assert "ssh -G haskelseed" in root  # the next step: how to test the alias
    assert "&lt;pytest_irp/remote/" not in root  # the internal command line is gone
    summary = json.loads((report_runs.failing.parent / "summary.json").read_text())
    assert page.count('<tr class="check"') == len(summary["checks"])  # BLOCKED ones too
    blocked = [c for c in summary["checks"] if c["status"] == "BLOCKED"]
    assert blocked
    assert page.count('data-status="BLOCKED" title=') == len(blocked)
    # the SHA under test is known in a failing run
    sha = json.loads((report_runs.failing_dir.parent / "scenario.json").read_text())["sha"]
    assert sha in page[page.index('id="environment"') :]
    assert "data:" not in page


def test_partial_run_keeps_latest_and_says_what_was_not_run(report_runs: ReportRuns) -> None:
    latest = (report_runs.failing_dir / "latest.html").read_text()
    assert report_runs.failing.parent.name.removeprefix("irp-") in latest
    assert report_runs.partial.parent.name.removeprefix("irp-") not in latest
    page = report_runs.partial.read_text()
    assert "<h1>NOT PROVEN</h1>" in page
    assert "Selection: -k T09" in page
    assert "partial run, 11 criteria not selected" in page
    not_run = page[page.index('id="not-selected"') :]
    for crit in ("T01", "T06", "T12"):
        assert f"<td>{crit}</td>" in not_run
    assert (
        "irp: partial run: latest.html still shows the last full run"
        in report_runs.outputs["partial"]
    )
    # the push stage's record is there although T07 was not selected (the root cause link)
    assert 'id="stage-push"' in page
    assert 'href="#stage-push"' in page


def test_report_folder_holds_every_linked_file(report_runs: ReportRuns) -> None:
    for page in (report_runs.failing, report_runs.failing_dir / "latest" / "index.html"):
        text = page.read_text()
        for href in re.findall(r'href="([^"#][^"]*)"', text):
            assert (page.parent / href).exists(), (page, href)
    latest = report_runs.failing_dir / "latest.html"
    for href in re.findall(r'href="([^"#][^"]*)"', latest.read_text()):
        assert href.startswith("latest/"), href
        assert (latest.parent / href).exists(), href


# --------------------------------------------------------------------------- pure parts

SHA = "cab1b4b67592899eea5124643463a05318446581"


def crit(status: str, optional: bool = False) -> model.CriterionView:
    return model.CriterionView("T01", "t", status, optional, 0.0, [], [])


def test_verdict_is_passed_only_when_every_required_criterion_passed() -> None:
    assert model.verdict([crit("PASS"), crit("SKIPPED", optional=True)], 0) == "PASSED"
    assert model.verdict([crit("PASS"), crit("FAIL")], 1) == "FAILED"
    for status in ("BLOCKED", "NOT RUN", "SKIPPED", "SOMETHING NEW"):
        assert model.verdict([crit("PASS"), crit(status)], 1) == "NOT PROVEN", status
    assert model.verdict([crit("PASS")], 1) == "NOT PROVEN"  # pytest disagrees
    assert model.verdict([], 0) == "NOT PROVEN"


def test_a_status_the_outcomes_do_not_rank_is_never_green() -> None:
    assert model.criterion_status(["PASS", "NOT RUN"]) == "NOT RUN"
    assert model.criterion_status(["NOT RUN", "FAIL"]) == "FAIL"


def run_info(**kw: object) -> model.RunInfo:
    data: dict[str, object] = dict(
        run_id="r1",
        command_line="pytest",
        selection=[],
        not_selected=[],
        full=True,
        exit_code=1,
        environment=[],
    )
    data.update(kw)
    return model.RunInfo(**data)  # type: ignore[arg-type]


def test_any_status_gets_its_row_count_filter_and_colours() -> None:
    records = [
        CheckRecord("t::a", "T06", "a", "PASS", 0.1),
        CheckRecord("t::b", "T06", "b", "NOT RUN", 0.0, "interrupted (-x)"),
        CheckRecord("t::c", "T07", "c", "BLOCKED", 0.0),
    ]
    rep = model.build(
        records=records,
        results={},
        titles={"T06": "build", "T07": "push"},
        stage_titles={},
        run=run_info(),
        base="/tmp",
        title="x",
    )
    assert rep.verdict == "NOT PROVEN"
    page = render.page(rep)
    assert page.count('<tr class="check"') == 3
    assert '<tr class="check" data-status="NOT RUN"' in page
    assert 'data-filter="NOT RUN"' in page
    assert ".st-not-run{" in page
    assert "http://" not in page
    assert "https://" not in page


def test_root_cause_is_the_first_failed_stage_with_a_plain_cause() -> None:
    argv = ["sh", "-c", "<pytest_irp/remote/source.sh>", "irp-source", "app", SHA]
    cause = (
        f"checkout on nosuchhost: `sh -c '<pytest_irp/remote/source.sh>' irp-source app "
        f"{SHA}` on nosuchhost exited 255: ssh: Could not resolve hostname nosuchhost: "
        "Name or service not known"
    )
    source = StageResult(
        "source",
        "T06",
        "failed",
        cause=cause,
        started=2.0,
        commands=[
            {
                "host": "nosuchhost",
                "argv": argv,
                "rc": 255,
                "duration": 0.1,
                "stdout": "",
                "stderr": "x",
            }
        ],
    )
    later = StageResult("chart", "T08", "failed", cause="helm lint failed", started=3.0)
    root = model.root_cause([], {"chart": later, "source": source}, "nosuchhost", "")
    assert root is not None
    assert root.stage == "source"
    assert root.host == "nosuchhost"
    assert "<pytest_irp" not in root.cause
    assert SHA not in root.cause
    assert "the source step on nosuchhost exited 255" in root.cause
    assert "ssh -G nosuchhost" in root.next_step
    assert root.command == f"source.sh app {SHA}"
    blocked = CheckRecord(
        "t::x", "T07", "x", "BLOCKED", 0.0, f"BLOCKED by stage 'source' (T06) failed: {cause}"
    )
    assert (
        model.check_view(blocked, root).cause
        == "blocked by stage source (T06): see the root cause above"
    )


def test_hints_for_common_failures() -> None:
    cases = {
        "ssh: connect to host h port 22: Connection refused": "ssh -G h",
        "ssh: Could not resolve hostname h: Name or service not known": "ssh -G h",
        "[Errno 2] No such file or directory: 'helm'": "--irp-helm",
        "`helm version --short` on local exited 127: helm: command not found on this "
        "machine": "--irp-helm",
        "the prebuild step on h exited 127: sh: 1: nix: not found": "ssh h nix --version",
        "the push step on h exited 127: bash: skopeo: command not found": "--irp-skopeo",
        "root@h: Permission denied (publickey).": "IdentityFile",
        "registry 10.0.0.1:3000 rejected the credentials of user 'u'": "registry_user",
    }
    for cause, step in cases.items():
        hint = hint_for(cause, "h")
        assert hint is not None, cause
        assert step in hint.next_step, cause
    assert hint_for("something nobody has seen") is None
    assert hint_for("error: attribute 'docker' not found in the flake") is None


def test_record_text_decodes_nix_json_drops_markers_and_indents_json() -> None:
    raw = (
        '@nix {"action":"start","id":1,"level":3,"type":105,"text":"building \'x.drv\'"}\n'
        '@nix {"action":"result","id":1,"type":101,"fields":["compiling Main"]}\n'
        "@@IRP-EXIT 0\n@@out /nix/store/abc\n"
    )
    assert clean_output(raw) == "building 'x.drv'\ncompiling Main\nout: /nix/store/abc"
    status = '{"info": {"status": "deployed", "notes": "' + "n" * 300 + '"}}'
    assert clean_output(status).splitlines()[:2] == ["{", '  "info": {']
    assert command_text(["helm", "status", "--", "a b"]) == "helm status -- 'a b'"


def test_findings_once_each_by_severity() -> None:
    realm = Finding("push", "warning", "token realm on the wrong port", "d", "set ROOT_URL")
    results = {
        "push": StageResult(
            "push", "T07", "ok", findings=[Finding("push", "info", "note", "d"), realm]
        ),
        "pull": StageResult(
            "pull",
            "T09",
            "ok",
            findings=[
                Finding("pull", "warning", realm.title, "d2", realm.fix),
                Finding("pull", "error", "broken", "d"),
            ],
        ),
    }
    found = model.findings(results)
    assert [f.title for f in found] == ["broken", realm.title, "note"]
    assert found[1].stages == ["push", "pull"]


def test_digest_match_mark() -> None:
    chain = [
        ("nix out path", "/nix/store/x"),
        ("pushed digest", "sha256:a"),
        ("pulled digest", "sha256:a"),
        ("running digest", "sha256:a"),
    ]
    assert model.digest_match(chain) == "match"
    assert model.digest_match([*chain[:3], ("running digest", "sha256:b")]) == "differ"
    assert model.digest_match([*chain[:3], ("running digest", "")]) == "incomplete"


@given(st.text())
def test_plain_cause_never_shows_the_internal_script_line(text: str) -> None:
    cause = f"`sh -c '<pytest_irp/remote/build.sh>' irp-build start {SHA}` {text}"
    assert "`sh -c '<pytest_irp/remote/build.sh>' irp-build" not in plain_cause(cause)


@given(st.lists(st.text().filter(lambda line: not line.startswith("@nix"))))
def test_clean_output_leaves_no_marker_line(lines: list[str]) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    assert not any(line.startswith("@@") for line in clean_output(text).splitlines())


def test_terminal_keeps_the_end_of_the_cause(report_runs: ReportRuns) -> None:
    out = report_runs.outputs["failing"]
    lines = out.splitlines()
    first = next(i for i, x in enumerate(lines) if x.startswith("1. T06"))
    cause = " ".join(lines[first : first + 2])  # the cause: two lines at most
    assert "Connection refused" in cause
    assert "problem 1 above" in next(x for x in lines if x.startswith("T06  FAIL"))


def test_html_option_gets_the_sections_through_public_hooks(
    project: Project, sound_target: list[str]
) -> None:
    target = project.path / "own" / "pytest-html.html"
    result = project.run(
        "-k", "T06 or T07", f"--html={target}", "--self-contained-html", *sound_target, build_rc=1
    )
    assert result.ret == 1
    text = target.read_text()
    assert 'id="root-cause"' in text
    assert 'data-filter="BLOCKED"' in text
    # one count on the page: pytest-html's own (BLOCKED counted as failed) is hidden
    assert ".summary__data>.run-count" in text
    assert 'id="irp-pytest-html-note"' in text
    summary = json.loads((project.path / "reports" / "summary.json").read_text())
    assert text.count('<tr class="check"') == len(summary["checks"]) == 9  # T06: 5, T07: 4
    assert "../reports/irp-" in text  # the log links point at the run's folder
    assert list((project.path / "reports").glob("irp-*/index.html"))


def test_a_secret_with_html_characters_is_masked_before_escaping() -> None:
    from pytest_irp.redact import Redactor

    secret = 'pa&ss<w>"rd-9'
    redactor = Redactor([secret])
    records = [CheckRecord("t::a", "T06", "a", "FAIL", 0.1, f"token {secret} refused")]
    rep = model.build(
        records=records,
        results={},
        titles={"T06": "build"},
        stage_titles={},
        run=run_info(command_line=f"pytest --x={secret}"),
        base="/tmp",
        title="x",
    )
    page = render.page(rep, redactor.redact)
    assert secret not in page
    assert "pa&amp;ss&lt;w&gt;&quot;rd-9" not in page
    assert "token *** refused" in page


def test_summary_data_is_redacted_before_json_escapes_it() -> None:
    import json as json_module

    from pytest_irp.htmlreport import redact_data
    from pytest_irp.redact import Redactor

    secret = 'q"uo\\te-77'
    redactor = Redactor([secret])
    data = {"cause": f"sent {secret}", "list": [secret], secret: 1}
    text = json_module.dumps(redact_data(data, redactor.redact))
    assert json_module.dumps(secret)[1:-1] not in text
    assert secret not in json_module.loads(text)["cause"]
    # the redactor also masks JSON-escaped forms, so the order is now belt and braces
    assert json_module.dumps(secret)[1:-1] not in redactor.redact(json_module.dumps(data))
