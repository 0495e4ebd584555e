"""MLflow's documented workflows, end to end, as plain users: the stock mlflow 3.10.1
client, through the real mlguard binary, in front of a real MLflow 3.10.1 server.

Nobody here is an admin. `owner` creates what a workflow needs and so holds MANAGE on
it (mlguard's creator grant); `reader` holds exactly what `owner` shares through the
permission API; `stranger` holds nothing. Every workflow runs with
default_permission NO_PERMISSIONS and READ. Each test checks what a user would
notice: the values read back, the loaded model's predictions, a prompt's text, and,
for a user without the right, a 403 PERMISSION_DENIED.

When a step fails, the test's captured output lists each request that did not
succeed ([http] lines: method, path, query, body, status, answer).
"""

from __future__ import annotations

import pytest

from conftest import Mlguard, unique
from mlflow_upstream import MlflowServer
from workflows_support import Traffic, World, denied, not_found, reset_client_state

# A model anyone can check by eye: class 0 below 1.5, class 1 above.
X = [[0.0], [1.0], [2.0], [3.0]]
Y = [0, 0, 1, 1]
PROBE = [[0.0], [3.0]]


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
        yield World(guard, request.param)
    finally:
        guard.stop()
        guard.assert_no_secret_in_logs()


@pytest.fixture(autouse=True)
def traffic(monkeypatch):
    recorder = Traffic()
    recorder.install(monkeypatch)
    return recorder


@pytest.fixture
def as_user(world, monkeypatch):
    """Switches the mlflow client's identity; returns a client for that user."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.prompt.registry_utils import PromptCache

    reset_client_state()

    def use(who: str) -> MlflowClient:
        username, password = world.auth(who)
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        mlflow.set_tracking_uri(world.url)
        # The prompt registry caches loaded prompts in the process: another user's
        # load must reach the server.
        PromptCache.get_instance().clear()
        return MlflowClient(tracking_uri=world.url)

    yield use
    reset_client_state()
    mlflow.set_tracking_uri(None)


def fit(labels=Y):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(X, labels)


@pytest.fixture
def refused(traffic):
    """`refused(call)`: `call` fails because mlguard answered 403 PERMISSION_DENIED.
    The request that ended the call is the one checked: some client calls read first
    and reword a 403 on that read (a prompt version or a logged model "does not
    exist", "you may not have access").
    """

    def check(call) -> None:
        mark = len(traffic.calls)
        with pytest.raises(Exception) as e:
            call()
        answered = traffic.since(mark)
        assert answered, f"no request was sent; the client raised {e.value!r}"
        method, path, status = answered[-1]
        assert status == 403, f"{method} {path} answered {status}: {e.value!r}"
        text = str(e.value)
        assert denied(e) or "does not exist" in text or "not have access" in text, text

    return check


def gone(call) -> None:
    """`call` fails because what it names was deleted. MLflow says 404; for a
    non-admin mlguard may say 403 where it can no longer tell whose it was (a
    dataset's experiments are gone with it), and either way nothing is shown."""
    with pytest.raises(Exception) as e:
        call()
    assert not_found(e) or denied(e), e.value


# --- tracking quickstart ---------------------------------------------------------

def test_quickstart(world, as_user, tmp_path, refused):
    """set_experiment by a new name, log a run by hand and one with sklearn
    autologging, find both with search_runs by experiment name."""
    import mlflow

    owner = as_user("owner")
    # The client asks for the name first (experiments/get-by-name) and creates the
    # experiment only on a 404: a name that names nothing is "not found", not
    # "forbidden".
    assert mlflow.get_experiment_by_name(unique("never-created")) is None
    name = unique("quickstart")
    experiment = mlflow.set_experiment(name)
    assert experiment.name == name
    assert mlflow.get_experiment_by_name(name).experiment_id == experiment.experiment_id

    notes = tmp_path / "notes.txt"
    notes.write_text("first try")
    with mlflow.start_run(run_name="manual") as run:
        mlflow.log_param("learning_rate", 0.01)
        mlflow.log_params({"epochs": 3, "optimizer": "sgd"})
        for step, loss in enumerate([0.9, 0.5, 0.25]):
            mlflow.log_metric("loss", loss, step=step)
        mlflow.set_tags({"team": "search", "stage": "dev"})
        mlflow.log_artifact(str(notes))
        mlflow.log_dict({"layers": [8, 4]}, "config/model.json")
    manual = owner.get_run(run.info.run_id)
    assert manual.data.params == {"learning_rate": "0.01", "epochs": "3", "optimizer": "sgd"}
    assert manual.data.metrics["loss"] == 0.25
    assert [m.value for m in owner.get_metric_history(run.info.run_id, "loss")] == [0.9, 0.5, 0.25]
    assert manual.data.tags["team"] == "search"
    config = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/config/model.json")
    assert config == {"layers": [8, 4]}

    mlflow.sklearn.autolog()
    try:
        with mlflow.start_run(run_name="autolog") as auto:
            fit()
    finally:
        mlflow.sklearn.autolog(disable=True)
    logged = owner.get_run(auto.info.run_id)
    assert logged.data.params["C"] == "1.0"
    assert logged.data.metrics["training_accuracy_score"] == 1.0
    model = mlflow.sklearn.load_model(mlflow.last_logged_model().model_uri)
    assert list(model.predict(PROBE)) == [0, 1]

    runs = mlflow.search_runs(experiment_names=[name])
    assert set(runs["run_id"]) == {run.info.run_id, auto.info.run_id}
    row = runs[runs["run_id"] == run.info.run_id].iloc[0]
    assert row["params.learning_rate"] == "0.01" and row["metrics.loss"] == 0.25
    assert row["tags.team"] == "search"

    # The stranger: reads follow the default; writes are refused whatever it is.
    stranger = as_user("stranger")
    if world.strict:
        refused(lambda: mlflow.get_experiment_by_name(name))
        refused(lambda: stranger.get_run(run.info.run_id))
        # As MLflow does, runs/search naming an experiment the caller may not read
        # narrows the list instead of failing: nothing comes back.
        hidden = mlflow.search_runs(experiment_ids=[experiment.experiment_id])
        assert len(hidden) == 0
    else:
        assert stranger.get_run(run.info.run_id).data.params["learning_rate"] == "0.01"
        found = mlflow.search_runs(experiment_names=[name])
        assert set(found["run_id"]) == {run.info.run_id, auto.info.run_id}
    refused(lambda: stranger.log_metric(run.info.run_id, "loss", 99.0))
    refused(lambda: stranger.set_tag(run.info.run_id, "team", "mine"))
    refused(lambda: stranger.create_run(experiment.experiment_id))


# --- models and the registry -----------------------------------------------------

@pytest.mark.filterwarnings("ignore:.*transition_model_version_stage.*:FutureWarning")
def test_models_and_registry(world, as_user, refused):
    """log_model, register_model, an alias, loading by version and by alias as the
    owner and as a reader holding READ on the registered model only."""
    import mlflow

    owner = as_user("owner")
    experiment_id = mlflow.create_experiment(unique("registry"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        first = mlflow.sklearn.log_model(fit(), name="model")
        # The challenger predicts the other way round, so that version 1 and the
        # alias can be told apart by what they predict.
        second = mlflow.sklearn.log_model(fit([1, 1, 0, 0]), name="challenger")
        unregistered = mlflow.sklearn.log_model(fit(), name="never-registered")
    name = unique("classifier")
    v1 = mlflow.register_model(first.model_uri, name)
    v2 = mlflow.register_model(second.model_uri, name)
    assert (v1.version, v2.version) == ("1", "2")
    owner.set_registered_model_alias(name, "champion", "2")
    assert owner.get_model_version_by_alias(name, "champion").version == "2"

    def predictions(uri):
        return list(mlflow.sklearn.load_model(uri).predict(PROBE))

    assert predictions(f"models:/{name}/1") == [0, 1]
    assert predictions(f"models:/{name}@champion") == [1, 0]

    # A reader of the registered model only: no grant on the experiment behind it.
    world.grant("registered-models", name, "reader", "READ")
    reader = as_user("reader")
    assert reader.get_registered_model(name).aliases == {"champion": "2"}
    assert reader.get_model_version_by_alias(name, "champion").version == "2"
    assert predictions(f"models:/{name}/1") == [0, 1]
    assert predictions(f"models:/{name}@champion") == [1, 0]
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    assert list(pyfunc.predict(PROBE)) == [1, 0]
    versions = reader.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    assert {v.run_id for v in versions} == {run.info.run_id}
    if world.strict:
        # The registered model's versions, and nothing else of the experiment: not
        # the run's other files, not a model that was never registered.
        artifacts = "/api/2.0/mlflow-artifacts/artifacts"
        for path in (experiment_id, f"{experiment_id}/{run.info.run_id}",
                     f"{experiment_id}/models/{unregistered.model_id}/artifacts"):
            r = world.http("reader", "GET", artifacts, params={"path": path})
            assert r.status_code == 403, (path, r.status_code, r.text)
        r = world.http("reader", "GET",
                       f"{artifacts}/{experiment_id}/models/{unregistered.model_id}/artifacts/MLmodel")
        assert r.status_code == 403, r.text
        r = world.http("reader", "GET",
                       f"{artifacts}/{experiment_id}/models/{first.model_id}/artifacts/MLmodel")
        assert r.status_code == 200 and "sklearn" in r.text, r.text
    # READ changes nothing.
    refused(lambda: reader.set_registered_model_alias(name, "champion", "1"))
    refused(lambda: reader.transition_model_version_stage(name, "1", "Production"))
    refused(lambda: reader.delete_model_version(name, "1"))

    stranger = as_user("stranger")
    if world.strict:
        refused(lambda: stranger.get_registered_model(name))
        refused(lambda: mlflow.sklearn.load_model(f"models:/{name}/1"))
        assert stranger.search_model_versions(f"name = '{name}'") == []
    else:
        assert predictions(f"models:/{name}@champion") == [1, 0]
    refused(lambda: stranger.delete_registered_model_alias(name, "champion"))
    refused(lambda: stranger.delete_model_version(name, "2"))

    # The MANAGE holder moves a version through the stages and deletes.
    owner = as_user("owner")
    staged = owner.transition_model_version_stage(name, "1", "Staging")
    assert staged.current_stage == "Staging"
    assert owner.get_model_version(name, "1").current_stage == "Staging"
    owner.delete_model_version(name, "1")
    assert [v.version for v in owner.search_model_versions(f"name = '{name}'")] == ["2"]
    owner.delete_registered_model(name)
    with pytest.raises(Exception) as e:
        owner.get_registered_model(name)
    assert not_found(e)


# --- prompts ---------------------------------------------------------------------

def test_prompts(world, as_user, refused):
    """register_prompt, a second version, load_prompt by version and by alias,
    search_prompts, then delete the versions and the prompt."""
    import mlflow

    owner = as_user("owner")
    name = unique("greeting")
    first = mlflow.genai.register_prompt(name=name, template="Hello, {{name}}!",
                                         commit_message="first draft")
    assert first.version == 1
    second = mlflow.genai.register_prompt(
        name=name, template="Hi {{name}}, welcome to {{place}}.", commit_message="friendlier")
    assert second.version == 2

    loaded = mlflow.genai.load_prompt(f"prompts:/{name}/1")
    assert loaded.template == "Hello, {{name}}!"
    assert loaded.format(name="Ada") == "Hello, Ada!"
    assert mlflow.genai.load_prompt(name, version=2).format(name="Ada", place="Paris") == \
        "Hi Ada, welcome to Paris."

    mlflow.genai.set_prompt_alias(name, alias="production", version=1)
    production = mlflow.genai.load_prompt(f"prompts:/{name}@production")
    assert (production.version, production.template) == (1, "Hello, {{name}}!")

    found = mlflow.genai.search_prompts(filter_string=f"name = '{name}'")
    assert [p.name for p in found] == [name]

    stranger = as_user("stranger")
    if world.strict:
        refused(lambda: mlflow.genai.load_prompt(f"prompts:/{name}/1"))
        assert list(mlflow.genai.search_prompts(filter_string=f"name = '{name}'")) == []
    else:
        assert mlflow.genai.load_prompt(f"prompts:/{name}@production").template == \
            "Hello, {{name}}!"
    refused(lambda: mlflow.genai.set_prompt_alias(name, alias="production", version=2))
    refused(lambda: stranger.delete_prompt_version(name, "2"))
    refused(lambda: stranger.delete_prompt(name))

    owner = as_user("owner")
    owner.delete_prompt_alias(name, "production")
    owner.delete_prompt_version(name, "1")
    with pytest.raises(Exception) as e:
        mlflow.genai.load_prompt(f"prompts:/{name}/1")
    assert not_found(e)
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").template == \
        "Hi {{name}}, welcome to {{place}}."
    owner.delete_prompt_version(name, "2")
    owner.delete_prompt(name)
    assert list(mlflow.genai.search_prompts(filter_string=f"name = '{name}'")) == []


# --- GenAI tracing ---------------------------------------------------------------

def test_tracing_and_assessments(world, as_user, refused):
    """start_span and @mlflow.trace, search_traces, get_trace, a tag, feedback and an
    expectation, and reading, updating and deleting assessments."""
    import mlflow
    from mlflow.entities import AssessmentSource, Feedback

    owner = as_user("owner")
    experiment_id = mlflow.create_experiment(unique("tracing"))
    mlflow.set_experiment(experiment_id=experiment_id)

    with mlflow.start_span(name="retrieve") as span:
        span.set_inputs({"query": "what is mlflow?"})
        span.set_outputs({"documents": ["MLflow is an open source platform."]})
    retrieval_id = span.trace_id

    @mlflow.trace
    def answer(question: str) -> str:
        return question.upper()

    assert answer("what is mlflow?") == "WHAT IS MLFLOW?"
    trace_id = mlflow.get_last_active_trace_id()
    assert trace_id and trace_id != retrieval_id
    # Newer clients export traces on worker threads: wait until they are written.
    flush = getattr(mlflow, "flush_trace_async_logging", None)
    if flush is not None:
        flush(terminate=False)

    found = mlflow.search_traces(locations=[experiment_id], return_type="list")
    assert {t.info.trace_id for t in found} == {retrieval_id, trace_id}
    trace = mlflow.get_trace(trace_id)
    assert trace is not None
    assert trace.data.spans[0].name == "answer"
    assert trace.data.spans[0].outputs == "WHAT IS MLFLOW?"
    assert mlflow.get_trace(retrieval_id).data.spans[0].inputs == {"query": "what is mlflow?"}

    owner.set_trace_tag(trace_id, "reviewed", "yes")
    assert owner.get_trace(trace_id).info.tags["reviewed"] == "yes"

    human = AssessmentSource(source_type="HUMAN", source_id=world.username("owner"))
    feedback = mlflow.log_feedback(trace_id=trace_id, name="helpful", value=True,
                                   rationale="answers the question", source=human)
    expectation = mlflow.log_expectation(trace_id=trace_id, name="expected_answer",
                                         value="WHAT IS MLFLOW?", source=human)
    got = mlflow.get_assessment(trace_id, feedback.assessment_id)
    assert (got.name, got.value, got.rationale) == ("helpful", True, "answers the question")
    assert mlflow.get_assessment(trace_id, expectation.assessment_id).value == "WHAT IS MLFLOW?"
    mlflow.update_assessment(trace_id=trace_id, assessment_id=feedback.assessment_id,
                             assessment=Feedback(name="helpful", value=False))
    assert mlflow.get_assessment(trace_id, feedback.assessment_id).value is False
    mlflow.delete_assessment(trace_id=trace_id, assessment_id=expectation.assessment_id)
    remaining = owner.get_trace(trace_id).info.assessments
    assert [(a.name, a.value) for a in remaining] == [("helpful", False)]

    stranger = as_user("stranger")
    if world.strict:
        refused(lambda: stranger.get_trace(trace_id))
        refused(lambda: mlflow.get_assessment(trace_id, feedback.assessment_id))
        # Searching an experiment one may not read never shows its traces.
        try:
            seen = mlflow.search_traces(locations=[experiment_id], return_type="list")
        except Exception as e:  # refused outright is fine too
            assert "PERMISSION_DENIED" in str(e), e
        else:
            assert seen == []
    else:
        assert stranger.get_trace(trace_id).data.spans[0].outputs == "WHAT IS MLFLOW?"
    refused(lambda: stranger.set_trace_tag(trace_id, "reviewed", "no"))
    refused(lambda: mlflow.log_feedback(trace_id=trace_id, name="helpful", value=False,
                                        source=AssessmentSource(source_type="HUMAN",
                                                                source_id="stranger")))
    refused(lambda: mlflow.delete_assessment(trace_id=trace_id,
                                             assessment_id=feedback.assessment_id))


# --- evaluation datasets and evaluate -------------------------------------------

def test_evaluation_datasets(world, as_user, refused):
    """create_dataset, merge_records, get, search and delete; a reader of the
    experiment reads the dataset, a stranger does not change it."""
    import mlflow
    from mlflow.genai import datasets

    as_user("owner")
    experiment_id = mlflow.create_experiment(unique("datasets"))
    name = unique("qa")
    dataset = datasets.create_dataset(name=name, experiment_id=experiment_id,
                                      tags={"purpose": "regression"})
    dataset.merge_records([
        {"inputs": {"question": "capital of France?"}, "expectations": {"answer": "Paris"}},
        {"inputs": {"question": "2 + 2?"}, "expectations": {"answer": "4"}},
    ])

    def questions(ds) -> set[str]:
        return {row["question"] for row in ds.to_df()["inputs"]}

    got = datasets.get_dataset(dataset_id=dataset.dataset_id)
    assert got.name == name
    assert got.tags["purpose"] == "regression"
    assert questions(got) == {"capital of France?", "2 + 2?"}
    assert got.experiment_ids == [experiment_id]

    found = datasets.search_datasets(experiment_ids=[experiment_id])
    assert [d.dataset_id for d in found] == [dataset.dataset_id]
    found = datasets.search_datasets(experiment_ids=experiment_id,
                                     filter_string=f"name = '{name}'")
    assert [d.name for d in found] == [name]

    # Shared with the reader through the experiment.
    world.grant("experiments", experiment_id, "reader", "READ")
    as_user("reader")
    assert questions(datasets.get_dataset(dataset_id=dataset.dataset_id)) == \
        {"capital of France?", "2 + 2?"}
    assert [d.dataset_id for d in datasets.search_datasets(experiment_ids=[experiment_id])] == \
        [dataset.dataset_id]
    refused(lambda: datasets.get_dataset(dataset_id=dataset.dataset_id).merge_records(
        [{"inputs": {"question": "sneaky?"}, "expectations": {"answer": "no"}}]))
    refused(lambda: datasets.delete_dataset(dataset_id=dataset.dataset_id))

    as_user("stranger")
    if world.strict:
        refused(lambda: datasets.get_dataset(dataset_id=dataset.dataset_id))
        try:
            seen = datasets.search_datasets(experiment_ids=[experiment_id])
        except Exception as e:  # MLflow's auth app refuses it outright
            assert "PERMISSION_DENIED" in str(e), e
        else:
            assert [d.dataset_id for d in seen] == []
    else:
        assert questions(datasets.get_dataset(dataset_id=dataset.dataset_id)) == \
            {"capital of France?", "2 + 2?"}
    refused(lambda: datasets.delete_dataset(dataset_id=dataset.dataset_id))

    as_user("owner")
    datasets.delete_dataset(dataset_id=dataset.dataset_id)
    gone(lambda: datasets.get_dataset(dataset_id=dataset.dataset_id))
    assert datasets.search_datasets(experiment_ids=[experiment_id]) == []


def test_evaluate_with_a_code_scorer(world, as_user, refused):
    """mlflow.genai.evaluate on a small list with a predict_fn and a code-based
    @scorer: one trace per row, each with the scorer's feedback, and the mean."""
    import mlflow
    from mlflow.genai.scorers import scorer

    owner = as_user("owner")
    experiment_id = mlflow.create_experiment(unique("evaluate"))
    mlflow.set_experiment(experiment_id=experiment_id)

    @scorer
    def exact_match(outputs, expectations) -> bool:
        return outputs == expectations["answer"]

    def predict_fn(question: str) -> str:
        return question.upper()

    data = [
        {"inputs": {"question": "paris"}, "expectations": {"answer": "PARIS"}},
        {"inputs": {"question": "rome"}, "expectations": {"answer": "MADRID"}},
    ]
    result = mlflow.genai.evaluate(data=data, predict_fn=predict_fn, scorers=[exact_match])
    assert result.metrics["exact_match/mean"] == 0.5
    run = owner.get_run(result.run_id)
    assert run.info.experiment_id == experiment_id
    assert run.data.metrics["exact_match/mean"] == 0.5
    traces = mlflow.search_traces(locations=[experiment_id], run_id=result.run_id,
                                  return_type="list")
    assert len(traces) == 2
    verdicts = sorted(a.value for t in traces for a in t.info.assessments
                      if a.name == "exact_match")
    assert verdicts == [False, True]

    as_user("stranger")
    if world.strict:
        refused(lambda: mlflow.MlflowClient().get_run(result.run_id))


# --- logged models ---------------------------------------------------------------

def test_logged_models(world, as_user, refused):
    """create_external_model, search_logged_models, and a metric logged against
    one's own model."""
    import mlflow

    owner = as_user("owner")
    experiment_id = mlflow.create_experiment(unique("logged-models"))
    mlflow.set_experiment(experiment_id=experiment_id)
    model = mlflow.create_external_model(name="support-agent", params={"temperature": "0.1"},
                                         model_type="agent")
    assert model.experiment_id == experiment_id
    found = mlflow.search_logged_models(experiment_ids=[experiment_id], output_format="list")
    assert [m.model_id for m in found] == [model.model_id]

    with mlflow.start_run():
        mlflow.log_metric("accuracy", 0.8, model_id=model.model_id)
    got = owner.get_logged_model(model.model_id)
    assert got.params == {"temperature": "0.1"}
    assert [(m.key, m.value) for m in got.metrics] == [("accuracy", 0.8)]
    found = mlflow.search_logged_models(experiment_ids=[experiment_id],
                                        filter_string="metrics.accuracy > 0.5",
                                        output_format="list")
    assert [m.model_id for m in found] == [model.model_id]

    stranger = as_user("stranger")
    if world.strict:
        refused(lambda: stranger.get_logged_model(model.model_id))
        try:
            seen = mlflow.search_logged_models(experiment_ids=[experiment_id],
                                               output_format="list")
        except Exception as e:
            assert "PERMISSION_DENIED" in str(e), e
        else:
            assert seen == []
    else:
        assert stranger.get_logged_model(model.model_id).name == "support-agent"
    refused(lambda: stranger.set_logged_model_tags(model.model_id, {"owner": "me"}))
    refused(lambda: stranger.delete_logged_model(model.model_id))


# --- artifacts; deleting and restoring runs --------------------------------------

def test_artifacts_and_run_lifecycle(world, as_user, tmp_path, refused):
    """Artifacts logged, listed and downloaded; one's own run deleted and restored."""
    import mlflow
    from mlflow.entities import ViewType

    owner = as_user("owner")
    experiment_id = mlflow.create_experiment(unique("artifacts"))
    outputs = tmp_path / "outputs"
    (outputs / "plots").mkdir(parents=True)
    (outputs / "report.md").write_text("# accuracy 0.9")
    (outputs / "plots" / "curve.csv").write_text("x,y\n0,1\n")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifacts(str(outputs), artifact_path="outputs")
        mlflow.log_text("all good", "summary.txt")
    run_id = run.info.run_id

    assert {a.path for a in owner.list_artifacts(run_id)} == {"outputs", "summary.txt"}
    assert {a.path for a in owner.list_artifacts(run_id, "outputs")} == \
        {"outputs/plots", "outputs/report.md"}
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="outputs",
                                                dst_path=str(tmp_path / "down"))
    assert open(f"{local}/plots/curve.csv").read() == "x,y\n0,1\n"
    assert open(f"{local}/report.md").read() == "# accuracy 0.9"
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/summary.txt") == "all good"

    stranger = as_user("stranger")
    if world.strict:
        refused(lambda: stranger.list_artifacts(run_id))
        refused(lambda: mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="summary.txt", dst_path=str(tmp_path / "s")))
    else:
        assert mlflow.artifacts.load_text(f"runs:/{run_id}/summary.txt") == "all good"
    extra = tmp_path / "extra.txt"
    extra.write_text("not yours")
    refused(lambda: stranger.log_artifact(run_id, str(extra)))
    refused(lambda: stranger.delete_run(run_id))

    owner = as_user("owner")
    owner.delete_run(run_id)
    assert owner.get_run(run_id).info.lifecycle_stage == "deleted"
    assert run_id not in {r.info.run_id for r in owner.search_runs([experiment_id])}
    deleted = owner.search_runs([experiment_id], run_view_type=ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [run_id]

    stranger = as_user("stranger")
    refused(lambda: stranger.restore_run(run_id))

    owner = as_user("owner")
    owner.restore_run(run_id)
    assert owner.get_run(run_id).info.lifecycle_stage == "active"
    assert [r.info.run_id for r in owner.search_runs([experiment_id])] == [run_id]
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/summary.txt") == "all good"


# --- sharing ---------------------------------------------------------------------

def test_sharing_and_revoking(world, as_user, tmp_path, refused):
    """The owner shares an experiment (READ) and the reader sees its runs; after the
    owner revokes, the reader's next request is refused."""
    import mlflow

    owner = as_user("owner")
    shared = mlflow.create_experiment(unique("shared"))
    private = mlflow.create_experiment(unique("private"))
    with mlflow.start_run(experiment_id=shared) as run:
        mlflow.log_param("dataset", "v2")
        mlflow.log_metric("f1", 0.77)
        mlflow.log_text("shared notes", "notes.txt")
    with mlflow.start_run(experiment_id=private) as private_run:
        mlflow.log_param("dataset", "secret")
    if not world.strict:
        # Under a READ default, "private" takes an explicit NO_PERMISSIONS.
        world.grant("experiments", private, "reader", "NO_PERMISSIONS")

    reader = as_user("reader")
    if world.strict:
        refused(lambda: reader.get_run(run.info.run_id))
    world.grant("experiments", shared, "reader", "READ")
    got = reader.get_run(run.info.run_id)
    assert got.data.params == {"dataset": "v2"} and got.data.metrics == {"f1": 0.77}
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt") == "shared notes"
    assert mlflow.get_experiment(shared).experiment_id == shared
    # Naming both experiments narrows the search to what the reader may read.
    both = mlflow.search_runs(experiment_ids=[shared, private])
    assert list(both["run_id"]) == [run.info.run_id]
    assert private_run.info.run_id not in set(both["run_id"])
    refused(lambda: reader.get_run(private_run.info.run_id))
    refused(lambda: reader.log_metric(run.info.run_id, "f1", 1.0))
    # READ does not let the reader share further.
    r = world.http("reader", "POST", "/api/2.0/mlflow/experiments/permissions/create",
                   json={"experiment_id": shared, "username": world.username("stranger"),
                         "permission": "READ"})
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"

    world.revoke("experiments", shared, "reader")
    if not world.strict:
        # Back on the READ default, the reader still reads; an explicit
        # NO_PERMISSIONS takes that away too.
        assert reader.get_run(run.info.run_id).data.params == {"dataset": "v2"}
        world.grant("experiments", shared, "reader", "NO_PERMISSIONS")
    refused(lambda: reader.get_run(run.info.run_id))
    refused(lambda: mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt"))
    assert len(mlflow.search_runs(experiment_ids=[shared])) == 0

    # The owner is unaffected.
    as_user("owner")
    assert owner.get_run(run.info.run_id).data.params == {"dataset": "v2"}
