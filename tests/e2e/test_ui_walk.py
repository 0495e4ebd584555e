"""The MLflow 3.10.1 UI in a real browser (headless Chromium, driven by selenium), as a
non-admin user, through the real mlguard binary in front of a real MLflow server.

A user "owner" creates, through mlguard with the python client, an experiment with
runs (params, metrics over several steps, an artifact file, a logged pyfunc model),
a registered model with a version, a prompt, a trace, an evaluation dataset and an
evaluation run. The admin creates an experiment the owner may not see (an explicit
NO_PERMISSIONS grant, so that it is hidden under every default).

Then the owner walks the UI: every network response the browser receives is recorded
(Chromium's performance log), with the request's method and body. The walk fails on
any 4xx/5xx on the owner's own pages that the owner's grants allow, on any 5xx
anywhere, on a setup step mlguard refused, and when a page does not show what it
should. The admin's experiment must show a permission error, be refused with 403 and
never come back with its data. A screenshot per page goes to tests/e2e/artifacts/ui/.

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian's chromium, chromium-driver;
scripts/test.sh installs them).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from conftest import Mlguard, unique
from mlflow_upstream import MlflowServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "ui"

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1600,1000",
]

QUIET_S = 1.5          # a page has settled after this long without network activity
SETTLE_TIMEOUT_S = 25  # ... or after this long in any case
CONTENT_TIMEOUT_S = 20  # how long a page gets to show what it should

# Responses that are legitimately an error on the owner's own pages: (method, path
# regex, status, reason). Every entry needs its reason. mlguard refusing something the
# owner's grants allow never belongs here: that is what this test is for.
ALLOWED: list[tuple[str, str, int, str]] = [
    # (none yet: no page of this walk makes MLflow itself answer an error)
]


# -- network capture ---------------------------------------------------------------------


@dataclass
class Exchange:
    request_id: str
    method: str
    url: str
    body: str | None
    status: int | None = None
    page: str = ""
    response_body: str | None = None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def short(self, base: str) -> str:
        url = self.url[len(base):] if self.url.startswith(base) else self.url
        text = f"{self.method} {self.status} {url}"
        if self.body:
            text += f"  body={self.body[:300]}"
        return text


class Network:
    """Reads Chromium's performance log: requests (with their bodies) and responses."""

    def __init__(self, driver, base_url: str):
        self.driver = driver
        self.base = base_url
        self.requests: dict[str, Exchange] = {}
        self.in_flight: set[str] = set()
        self.responses: list[Exchange] = []  # in the order received
        self.console: list[str] = []

    def drain(self, page: str) -> list[Exchange]:
        """The responses received since the last call, for mlguard's origin."""
        done = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            rid = params.get("requestId")
            if method == "Network.requestWillBeSent":
                req = params["request"]
                if not req["url"].startswith(self.base):
                    continue
                body = req.get("postData")
                if body is None and req.get("hasPostData"):
                    with contextlib.suppress(Exception):
                        body = self.driver.execute_cdp_cmd(
                            "Network.getRequestPostData", {"requestId": rid})["postData"]
                self.requests[rid] = Exchange(rid, req["method"], req["url"], body, page=page)
                # API calls only: a worker's script, say, finishes in another target
                # and never reports here.
                if params.get("type") in ("Fetch", "XHR", "Document"):
                    self.in_flight.add(rid)
            elif method == "Network.responseReceived" and rid in self.requests:
                ex = self.requests[rid]
                ex.status = params["response"]["status"]
                ex.page = page
                done.append(ex)
                self.responses.append(ex)
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                self.in_flight.discard(rid)
        for entry in self.driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                self.console.append(f"[{page}] {entry['message'][:400]}")
        return done

    def settle(self, page: str) -> None:
        """Waits until the page is quiet: no network event for QUIET_S and no API call
        in flight (or SETTLE_TIMEOUT_S)."""
        start = last = time.monotonic()
        while time.monotonic() - start < SETTLE_TIMEOUT_S:
            before = len(self.requests)
            if self.drain(page) or len(self.requests) != before:
                last = time.monotonic()
            elif not self.in_flight and time.monotonic() - last >= QUIET_S:
                break
            time.sleep(0.2)

    def response_body(self, ex: Exchange) -> str:
        if ex.response_body is None:
            try:
                ex.response_body = self.driver.execute_cdp_cmd(
                    "Network.getResponseBody", {"requestId": ex.request_id})["body"]
            except Exception as e:  # evicted or never received
                ex.response_body = f"<unavailable: {e}>"
        return ex.response_body


def _allowed(ex: Exchange) -> str | None:
    for method, pattern, status, reason in ALLOWED:
        if ex.method == method and ex.status == status and re.search(pattern, ex.path):
            return reason
    return None


def _names_experiment(ex: Exchange, experiment_id: str) -> bool:
    """Whether the request names the experiment: query parameters or JSON body fields
    called experiment_id(s) / experimentId(s), at any depth (GraphQL variables, trace
    locations included)."""
    query = parse_qs(urlsplit(ex.url).query)
    for key, values in query.items():
        if re.fullmatch(r"experiment_?ids?", key, re.I) and experiment_id in values:
            return True

    def walk(node) -> bool:
        if isinstance(node, dict):
            for key, value in node.items():
                if re.fullmatch(r"experiment_?ids?", key, re.I):
                    vals = value if isinstance(value, list) else [value]
                    if experiment_id in [str(v) for v in vals]:
                        return True
                if walk(value):
                    return True
        elif isinstance(node, list):
            return any(walk(v) for v in node)
        return False

    if ex.body:
        with contextlib.suppress(ValueError):
            return walk(json.loads(ex.body))
    return False


def _empty(body: str) -> bool:
    """A JSON answer without data: `{}`, or only empty lists, objects and strings."""
    def empty(node) -> bool:
        if isinstance(node, dict):
            return all(empty(v) for v in node.values())
        if isinstance(node, list):
            return not node
        return node in (None, "")

    try:
        return empty(json.loads(body))
    except ValueError:
        return False


# -- the world: MLflow, mlguard, and what the owner made ------------------------------------


@contextlib.contextmanager
def identity(username: str, password: str):
    """The mlflow client's credentials (read on each call), restored afterwards."""
    keys = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(dict(zip(keys, (username, password))))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class World:
    default: str
    guard: Mlguard
    owner: tuple[str, str]
    # The upstream MLflow's release, e.g. "3.17.2": its UI lays pages out differently.
    mlflow_version: str = "3.10.1"
    names: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    # Setup steps mlguard refused the owner: failures of this test, like the walk's.
    setup_failures: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.guard.base_url

    def admin(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.url + path, auth=self.guard.admin_auth(),
                                timeout=60, **kwargs)

    def step(self, label: str, action, fallback=None):
        """Runs a setup step as the owner. If mlguard refuses it, records the failure and
        runs the fallback (as the admin) so that the walk still covers its pages."""
        try:
            with identity(*self.owner):
                return action()
        except Exception as e:
            self.setup_failures.append(f"setup, as the owner: {label}: {type(e).__name__}: {e}")
            if fallback is None:
                return None
            with identity(*self.guard.admin_auth()):
                return fallback()


def _seed(world: World, tmp: Path) -> None:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.genai.datasets import create_dataset, get_dataset
    from mlflow.genai.scorers import scorer

    mlflow.set_tracking_uri(world.url)
    n = world.names
    n.update(experiment=unique("owner-exp"), model=unique("owner-model"),
             prompt=unique("owner-prompt"), dataset=unique("owner-ds"),
             admin_experiment=unique("admin-secret"), ui_prompt=unique("ui-prompt"))

    class Echo(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input

    def experiment_and_runs():
        exp = mlflow.create_experiment(n["experiment"])
        note = tmp / "notes.txt"
        note.write_text("hello from owner")
        runs = []
        for i in range(2):
            with mlflow.start_run(experiment_id=exp, run_name=f"run-{i}") as run:
                mlflow.log_param("alpha", str(0.5 + i))
                for s in range(5):
                    mlflow.log_metric("loss", 1.0 / (s + 1 + i), step=s)
                mlflow.log_artifact(str(note))
                if i == 0:
                    info = mlflow.pyfunc.log_model(name="model", python_model=Echo(),
                                                   input_example=[[1.0]])
                runs.append(run.info.run_id)
        world.ids.update(experiment=exp, run=runs[0], run2=runs[1], logged_model=info.model_id,
                         model_uri=info.model_uri)

    # Without these the walk has nothing to look at: no fallback, fail the setup.
    with identity(*world.owner):
        experiment_and_runs()
    exp = world.ids["experiment"]

    world.step("register_model",
               lambda: mlflow.register_model(world.ids["model_uri"], n["model"]))

    def prompt():
        mlflow.genai.register_prompt(name=n["prompt"], template="Hello {{name}}",
                                     commit_message="first")

    def prompt_as_admin():
        prompt()
        r = world.admin("POST", "/api/2.0/mlflow/registered-models/permissions/create",
                        json={"name": n["prompt"], "username": world.owner[0],
                              "permission": "MANAGE"})
        assert r.status_code == 200, r.text

    world.step("mlflow.genai.register_prompt", prompt, prompt_as_admin)

    def trace():
        mlflow.set_experiment(experiment_id=exp)
        with mlflow.start_span("root") as span:
            span.set_inputs({"question": "hi"})
            with mlflow.start_span("child") as child:
                child.set_outputs({"answer": "yo"})
            span.set_outputs({"answer": "yo"})
        world.ids["trace"] = mlflow.get_last_active_trace_id()
        assert world.ids["trace"]

    world.step("mlflow.start_span", trace)

    def dataset():
        ds = create_dataset(name=n["dataset"], experiment_id=[exp])
        ds.merge_records([{"inputs": {"question": "hi"}, "expectations": {"answer": "yo"}}])
        world.ids["dataset"] = ds.dataset_id

    world.step("mlflow.genai.datasets.create_dataset + merge_records", dataset, dataset)

    @scorer
    def exact(outputs, expectations):
        return outputs == expectations["answer"]

    def evaluation():
        mlflow.set_experiment(experiment_id=exp)
        ds = get_dataset(dataset_id=world.ids["dataset"])
        result = mlflow.genai.evaluate(data=ds, predict_fn=lambda question: "yo",
                                       scorers=[exact])
        world.ids["evaluation_run"] = result.run_id

    if "dataset" in world.ids:
        world.step("mlflow.genai.evaluate", evaluation)

    # The admin's experiment, with data the owner must never see.
    with identity(*world.guard.admin_auth()):
        admin_exp = MlflowClient(world.url).create_experiment(n["admin_experiment"])
        with mlflow.start_run(experiment_id=admin_exp, run_name="secret-run") as run:
            mlflow.log_param("secret-param", "1")
            mlflow.log_metric("loss", 0.5)
        mlflow.set_experiment(experiment_id=admin_exp)
        with mlflow.start_span("secret-span") as span:
            span.set_inputs({"question": "secret"})
    world.ids.update(admin_experiment=admin_exp, admin_run=run.info.run_id)
    r = world.admin("POST", "/api/2.0/mlflow/experiments/permissions/create",
                    json={"experiment_id": admin_exp, "username": world.owner[0],
                          "permission": "NO_PERMISSIONS"})
    assert r.status_code == 200, r.text
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["NO_PERMISSIONS", "READ"])
def world(request, upstream, tmp_path_factory):
    guard = Mlguard(
        tmp_path_factory.mktemp(f"guard-{request.param.lower()}"),
        default_permission=request.param,
        extra_env={"MLGUARD_UPSTREAM__URL": upstream.url},
    ).start()
    try:
        w = World(request.param, guard, guard.create_user(unique("owner")),
                  mlflow_version=upstream.version)
        _seed(w, tmp_path_factory.mktemp("seed"))
        yield w
    finally:
        guard.stop()
        guard.assert_no_secret_in_logs()


@pytest.fixture
def browser(world):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM.is_file() and CHROMEDRIVER.is_file(), (
        "chromium and chromedriver are needed (apt-get install chromium chromium-driver; "
        "scripts/test.sh installs them)")
    profile = tempfile.mkdtemp(prefix="mlguard-ui-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS + [f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        token = base64.b64encode(":".join(world.owner).encode()).decode()
        driver.execute_cdp_cmd("Network.setExtraHTTPHeaders",
                               {"headers": {"Authorization": f"Basic {token}"}})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# -- the walk -------------------------------------------------------------------------------


class Walk:
    def __init__(self, world: World, driver):
        self.world = world
        self.driver = driver
        self.net = Network(driver, world.url)
        self.failures: dict[str, list[str]] = {}
        self.summary: list[str] = []
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.prefix = world.default.lower().replace("_", "-")
        for old in ARTIFACTS.glob(f"{self.prefix}-*.png"):
            old.unlink()

    def fail(self, page: str, message: str) -> None:
        messages = self.failures.setdefault(page, [])
        if message not in messages:
            messages.append(message)

    def text(self) -> str:
        try:
            return self.driver.find_element("tag name", "body").text
        except Exception:
            return ""

    def wait_for_text(self, page: str, expected: list[str], absent: list[str] = ()) -> None:
        deadline = time.monotonic() + CONTENT_TIMEOUT_S
        while True:
            body = self.text()
            missing = [t for t in expected if t not in body]
            if not missing or time.monotonic() > deadline:
                break
            self.net.drain(page)
            time.sleep(0.3)
        if missing:
            self.fail(page, f"the page does not show {missing}")
        for t in absent:
            if t in body:
                self.fail(page, f"the page shows {t!r}, which it must not")

    def click_text(self, page: str, text: str, xpath: str | None = None) -> bool:
        from selenium.webdriver.common.by import By

        xpath = xpath or f"//*[normalize-space(text())={json.dumps(text)}]"
        deadline = time.monotonic() + CONTENT_TIMEOUT_S
        while time.monotonic() < deadline:
            for el in self.driver.find_elements(By.XPATH, xpath):
                with contextlib.suppress(Exception):
                    if el.is_displayed():
                        el.click()
                        return True
            time.sleep(0.3)
        self.fail(page, f"nothing to click: {text!r}")
        return False

    def page(self, name: str, hash_route: str | None = None, expect: list[str] = (),
             absent: list[str] = (), action=None, own: bool = True) -> list[Exchange]:
        """Opens a page (a full load of `/#<route>`) or runs an in-page action, waits
        for its content and for the network to settle, then checks every response."""
        if hash_route is not None:
            self.driver.get("about:blank")
        self.net.drain(name)
        first = len(self.net.responses)
        if hash_route is not None:
            self.driver.get(f"{self.world.url}/#{hash_route}")
        if action is not None:
            self.net.settle(name)
            action(name)
        self.wait_for_text(name, list(expect), list(absent))
        self.net.settle(name)
        collected = self.net.responses[first:]
        if own:
            body = self.text()
            shown = [m for m in ("Permission denied", "PERMISSION_DENIED") if m in body]
            if shown:
                self.fail(name, f"the page shows {' / '.join(shown)}")
        self.count += 1
        shot = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        self.driver.save_screenshot(str(shot))
        if own:
            self.check(name, collected)
        self.summary.append(
            f"{name}: {len(collected)} responses, "
            f"{sum(1 for e in collected if (e.status or 0) >= 400)} errors")
        return collected

    def check(self, name: str, collected: list[Exchange]) -> None:
        for ex in collected:
            if ex.status is None or ex.status < 400:
                continue
            if ex.status < 500 and _allowed(ex):
                continue
            answer = self.net.response_body(ex).replace("\n", " ")[:200]
            self.fail(name, f"{ex.short(self.world.url)} -> {answer}")

    def report(self) -> str:
        lines = [f"default_permission={self.world.default}"]
        for failure in self.world.setup_failures:
            lines.append(f"  {failure}")
        for page, messages in self.failures.items():
            lines.append(f"  page {page}:")
            lines += [f"    {m}" for m in messages]
        # "Failed to load resource" repeats a response listed above; the rest are the
        # UI's own errors.
        console = list(dict.fromkeys(
            c for c in self.net.console if "Failed to load resource" not in c))
        if console:
            lines.append("  browser console errors:")
            lines += [f"    {c}" for c in console[:40]]
        return "\n".join(lines)


def test_ui_walk_as_a_non_admin(world, browser):
    from selenium.webdriver.common.by import By

    walk = Walk(world, browser)
    ids, names = world.ids, world.names
    exp = ids["experiment"]
    run = ids["run"]
    lm = ids["logged_model"]

    walk.page("home", "/", expect=["Welcome to MLflow"])
    walk.page("experiments", "/experiments", expect=[names["experiment"]],
              absent=[names["admin_experiment"]])
    walk.page("experiment-overview", f"/experiments/{exp}", expect=[names["experiment"], "Traces"])
    walk.page("runs-table", f"/experiments/{exp}/runs", expect=["run-0", "run-1"])
    walk.page("runs-charts", f"/experiments/{exp}/runs?compareRunsMode=CHART",
              expect=["run-0", "loss", "Step"])
    walk.page("run", f"/experiments/{exp}/runs/{run}", expect=["run-0", "alpha", "loss"])
    walk.page("run-model-metrics", f"/experiments/{exp}/runs/{run}/model-metrics",
              expect=["loss"])
    walk.page("run-artifacts", f"/experiments/{exp}/runs/{run}/artifacts", expect=["notes.txt"])
    walk.page("run-artifact-preview", action=lambda p: walk.click_text(p, "notes.txt"),
              expect=["hello from owner"])
    walk.page("logged-models", f"/experiments/{exp}/models", expect=["model", "run-0"])
    walk.page("logged-model", f"/experiments/{exp}/models/{lm}", expect=["alpha", "run-0"])
    walk.page("logged-model-artifacts", f"/experiments/{exp}/models/{lm}/artifacts",
              expect=["MLmodel", "python_model.pkl"])
    walk.page("logged-model-preview", action=lambda p: walk.click_text(p, "MLmodel"),
              expect=["python_function"])
    if "model" in names and world.ids.get("model_uri"):
        walk.page("registered-models", "/models", expect=[names["model"]])
        walk.page("registered-model", f"/models/{names['model']}", expect=["Version 1"])
        walk.page("model-version", f"/models/{names['model']}/versions/1",
                  expect=["Version 1", "Source Run", "run-0"])
    walk.page("prompts", "/prompts", expect=[names["prompt"]])
    walk.page("prompt", f"/prompts/{names['prompt']}", expect=["Hello {{name}}", "Version 1"])

    def create_prompt(page: str) -> None:
        if not walk.click_text(page, "Create prompt",
                               "//button[normalize-space()='Create prompt']"):
            return
        field_ = lambda id_: browser.find_element(By.ID, id_)  # noqa: E731
        walk.wait_for_text(page, ["Commit message"])
        field_("mlflow.prompts.create.name").send_keys(names["ui_prompt"])
        field_("mlflow.prompts.create.content").send_keys("Bonjour {{name}}")
        field_("mlflow.prompts.create.commit_message").send_keys("from the UI")
        walk.click_text(page, "Create", "//div[@role='dialog']//button[normalize-space()='Create']")

    walk.page("prompts-create", "/prompts", action=create_prompt,
              expect=[names["ui_prompt"], "Bonjour {{name}}", "Version 1"])
    walk.page("prompt-created", f"/prompts/{names['ui_prompt']}",
              expect=[names["ui_prompt"], "Bonjour {{name}}", "from the UI"])
    # MLflow 3.17's traces table shows each trace's input and output, not its id, and
    # its datasets page lists the datasets, whose records open on a click.
    modern_ui = tuple(int(n) for n in world.mlflow_version.split(".")[:2]) >= (3, 17)
    if "trace" in ids and modern_ui:
        def open_trace(page: str) -> None:
            # 3.17's first-visit tip covers the table until dismissed.
            for tip in browser.find_elements(By.XPATH, "//button[normalize-space()='Got it']"):
                with contextlib.suppress(Exception):
                    tip.click()
            walk.click_text(page, '{"answer": "yo"}',
                            "//*[contains(text(), '\"answer\"')]")

        walk.page("traces", f"/experiments/{exp}/traces", expect=['{"question": "hi"}'])
        walk.page("trace-detail", action=open_trace,
                  expect=["root", "child", "question", "answer"])
    elif "trace" in ids:
        walk.page("traces", f"/experiments/{exp}/traces", expect=[ids["trace"]])
        walk.page("trace-detail", action=lambda p: walk.click_text(p, ids["trace"]),
                  expect=["Inputs", "question", "Outputs", "answer"])
        walk.page("trace-timeline", action=lambda p: walk.click_text(p, "Details & Timeline"),
                  expect=["root", "child"])
    if modern_ui:
        walk.page("datasets", f"/experiments/{exp}/datasets", expect=[names["dataset"]])
        walk.page("dataset-records", action=lambda p: walk.click_text(p, names["dataset"]),
                  expect=["question", "hi"])
    else:
        walk.page("datasets", f"/experiments/{exp}/datasets",
                  expect=[names["dataset"], '"question": "hi"'])
    if "evaluation_run" in ids:
        walk.page("evaluation-run",
                  f"/experiments/{exp}/evaluation-runs?selectedRunUuid={ids['evaluation_run']}",
                  expect=["exact"])
    walk.page("gateway", "/gateway", expect=["AI Gateway"])

    # The admin's experiment: its pages show a permission error and none of its data;
    # what names it is refused (403, or a GraphQL PERMISSION_DENIED) or, for a search
    # narrowed to the readable experiments, answered empty.
    admin_exp, admin_run = ids["admin_experiment"], ids["admin_run"]
    secrets = [names["admin_experiment"], "secret-run", "secret-span", "secret-param"]
    denied: list[Exchange] = []
    for name, route, expect in [
        ("denied-experiment", f"/experiments/{admin_exp}", ["Permission denied"]),
        ("denied-runs", f"/experiments/{admin_exp}/runs", ["Permission denied"]),
        ("denied-run", f"/experiments/{admin_exp}/runs/{admin_run}", ["Permission denied"]),
        # MLflow's traces tab shows its empty state (quickstart) rather than an error
        # when the experiment cannot be read: only the absence of data is required.
        ("denied-traces", f"/experiments/{admin_exp}/traces", []),
    ]:
        seen = walk.page(name, route, expect=expect, absent=secrets, own=False)
        denied += seen
        for ex in seen:
            if ex.status is None:
                continue
            names_it = (_names_experiment(ex, admin_exp) or admin_run in ex.url
                        or admin_run in (ex.body or ""))
            if names_it:
                walk.summary.append(f"  names the admin's experiment: {ex.short(world.url)[:200]}")
            if ex.status >= 500:
                walk.fail(name, ex.short(world.url))
            elif not names_it:
                # The rest of the page is the owner's own: the usual rule.
                if ex.status >= 400 and not _allowed(ex):
                    walk.fail(name, ex.short(world.url))
            elif ex.status == 403:
                pass
            elif ex.status >= 400:
                walk.fail(name, f"refused, but not with 403: {ex.short(world.url)}")
            elif ex.path.endswith("/graphql"):
                body = walk.net.response_body(ex)
                if "PERMISSION_DENIED" not in body and "Permission denied" not in body:
                    walk.fail(name, f"GraphQL answered without a denial: "
                              f"{ex.short(world.url)} -> {body[:300]}")
                leaked = [t for t in secrets + [admin_run] if t in body]
                if leaked:
                    walk.fail(name, f"GraphQL answer carries {leaked}: {ex.short(world.url)}")
            elif not _empty(walk.net.response_body(ex)):
                walk.fail(name, f"served the experiment's data: {ex.short(world.url)} -> "
                          f"{walk.net.response_body(ex)[:300]}")
    if not any(ex.status == 403 and (_names_experiment(ex, admin_exp) or admin_run in ex.url
                                     or admin_run in (ex.body or "")) for ex in denied):
        walk.fail("denied-experiment", "no request naming the admin's experiment or run "
                  "was refused with 403")

    # No 5xx anywhere in the walk, whichever page it came from.
    for ex in walk.net.requests.values():
        if ex.status is not None and ex.status >= 500:
            walk.fail(ex.page or "?", ex.short(world.url))

    print(walk.report())
    print("\n".join(walk.summary))
    assert not walk.failures and not world.setup_failures, (
        f"screenshots in {ARTIFACTS}\n{walk.report()}")
