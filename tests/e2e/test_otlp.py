"""OTLP span export (`POST /v1/traces`) from the attacker's side, through the real
mlguard binary in front of a real MLflow 3.10.1.

MLflow files each span under the trace its OpenTelemetry trace id (or its
`mlflow.traceRequestId` attribute) names, and only a *new* trace goes into the
`X-Mlflow-Experiment-Id` experiment. So a span naming someone else's trace joins
that trace, whatever the header says: mlguard must see every span's trace, in every
encoding MLflow reads.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib

import pytest
import requests
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from conftest import Mlguard, unique
from mlflow_upstream import MlflowServer


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["READ", "NO_PERMISSIONS"])
def guard(request, upstream, tmp_path_factory):
    guard = Mlguard(
        tmp_path_factory.mktemp(f"otlp-{request.param.lower()}"),
        default_permission=request.param,
        extra_env={"MLGUARD_UPSTREAM__URL": upstream.url},
    ).start()
    yield guard
    guard.stop()
    guard.assert_no_secret_in_logs()


class Party:
    def __init__(self, guard: Mlguard):
        self.guard = guard
        self.alice = guard.create_user(unique("alice"))
        self.bob = guard.create_user(unique("bob"))

    def http(self, auth, method, path, **kwargs) -> requests.Response:
        return requests.request(method, self.guard.base_url + path, auth=auth, timeout=60,
                                **kwargs)

    def experiment(self, auth) -> str:
        r = self.http(auth, "POST", "/api/2.0/mlflow/experiments/create",
                      json={"name": unique("otlp")})
        assert r.status_code == 200, r.text
        return r.json()["experiment_id"]

    def spans(self, trace_id: str) -> list[str]:
        """The span names of a trace, as the admin sees them."""
        r = self.http(self.guard.admin_auth(), "GET", "/ajax-api/3.0/mlflow/get-trace-artifact",
                      params={"request_id": trace_id})
        assert r.status_code == 200, r.text
        return sorted(span["name"] for span in r.json()["spans"])

    def trace_experiment(self, trace_id: str) -> str:
        r = self.http(self.guard.admin_auth(), "GET", f"/api/3.0/mlflow/traces/{trace_id}")
        assert r.status_code == 200, r.text
        return r.json()["trace"]["trace_info"]["trace_location"]["mlflow_experiment"][
            "experiment_id"]


@pytest.fixture
def party(guard):
    return Party(guard)


def otel_id(trace_id: str) -> bytes:
    return bytes.fromhex(trace_id.removeprefix("tr-"))


def export(*spans) -> ExportTraceServiceRequest:
    """One export; each span is (otel trace id, name, attributes)."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for trace_id, name, attributes in spans:
        span = scope.spans.add()
        span.trace_id = trace_id
        # Span ids are unique within a trace: a repeated one replaces the span.
        span.span_id = os.urandom(8)
        span.name = name
        span.start_time_unix_nano = 1_700_000_000_000_000_000
        span.end_time_unix_nano = 1_700_000_001_000_000_000
        for key, value in attributes.items():
            span.attributes.append(KeyValue(key=key, value=AnyValue(string_value=value)))
    return request


def as_json(request: ExportTraceServiceRequest) -> bytes:
    """The OTLP JSON mapping: lowerCamelCase keys, hex ids."""
    resource_spans = []
    for resource in request.resource_spans:
        scopes = []
        for scope in resource.scope_spans:
            spans = [{
                "traceId": span.trace_id.hex(), "spanId": span.span_id.hex(), "name": span.name,
                "startTimeUnixNano": str(span.start_time_unix_nano),
                "endTimeUnixNano": str(span.end_time_unix_nano),
                "attributes": [{"key": a.key, "value": {"stringValue": a.value.string_value}}
                               for a in span.attributes],
            } for span in scope.spans]
            scopes.append({"spans": spans})
        resource_spans.append({"scopeSpans": scopes})
    return json.dumps({"resourceSpans": resource_spans}).encode()


def encodings(request: ExportTraceServiceRequest):
    """Every way MLflow (or a later MLflow, for JSON) reads one export."""
    raw = request.SerializeToString()
    protobuf = "application/x-protobuf"
    yield "protobuf", protobuf, None, raw
    yield "gzip", protobuf, "gzip", gzip.compress(raw)
    yield "GZIP", protobuf, "GZIP", gzip.compress(raw)
    yield "deflate", protobuf, "deflate", zlib.compress(raw)
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    yield "raw deflate", protobuf, "deflate", raw_deflate.compress(raw) + raw_deflate.flush()
    # A harmless first gzip member, the foreign span in the second.
    yield "two gzip members", protobuf, "gzip", gzip.compress(b"") + gzip.compress(raw)
    yield "json", "application/json", None, as_json(request)


def post(party, auth, experiment_id, content_type, encoding, body, path="/v1/traces"):
    headers = {"Content-Type": content_type, "X-Mlflow-Experiment-Id": experiment_id}
    if encoding:
        headers["Content-Encoding"] = encoding
    return party.http(auth, "POST", path, data=body, headers=headers)


@pytest.fixture
def alice_trace(party, tmp_path):
    """alice's experiment with one finished trace, made by her own export."""
    experiment = party.experiment(party.alice)
    trace_id = "tr-" + os.urandom(16).hex()
    r = post(party, party.alice, experiment, "application/x-protobuf", None,
             export((otel_id(trace_id), "alice-root", {})).SerializeToString())
    assert r.status_code == 200, r.text
    assert party.spans(trace_id) == ["alice-root"]
    return experiment, trace_id


def test_a_span_cannot_join_someone_elses_trace(party, alice_trace):
    alice_experiment, alice_trace_id = alice_trace
    bob_experiment = party.experiment(party.bob)
    by_otel_id = export((otel_id(alice_trace_id), "forged", {}))
    # The request-id attribute wins over the OpenTelemetry id in MLflow.
    by_attribute = export((os.urandom(16), "forged", {"mlflow.traceRequestId": alice_trace_id}))
    # One honest new span first, the foreign one hidden behind it.
    mixed = export((os.urandom(16), "bob-new", {}), (otel_id(alice_trace_id), "forged", {}))
    for request in (by_otel_id, by_attribute, mixed):
        for name, content_type, encoding, body in encodings(request):
            r = post(party, party.bob, bob_experiment, content_type, encoding, body)
            assert r.status_code == 403, (name, r.status_code, r.text)
            assert r.json()["error_code"] == "PERMISSION_DENIED", (name, r.text)
    assert party.spans(alice_trace_id) == ["alice-root"]
    assert party.trace_experiment(alice_trace_id) == alice_experiment


def test_a_read_grant_is_not_enough_but_update_is(party, alice_trace):
    alice_experiment, alice_trace_id = alice_trace
    bob_experiment = party.experiment(party.bob)
    body = export((otel_id(alice_trace_id), "bob-child", {})).SerializeToString()
    admin = party.guard.admin_auth()

    def grant(permission: str, verb: str) -> None:
        r = party.http(admin, verb, "/api/2.0/mlflow/experiments/permissions/" + (
            "create" if verb == "POST" else "update"),
            json={"experiment_id": alice_experiment, "username": party.bob[0],
                  "permission": permission})
        assert r.status_code == 200, r.text

    grant("READ", "POST")
    r = post(party, party.bob, bob_experiment, "application/x-protobuf", None, body)
    assert r.status_code == 403, r.text
    grant("EDIT", "PATCH")
    r = post(party, party.bob, bob_experiment, "application/x-protobuf", None, body)
    assert r.status_code == 200, r.text
    assert party.spans(alice_trace_id) == ["alice-root", "bob-child"]
    # The spans joined alice's trace where it is; bob's header did not move it.
    assert party.trace_experiment(alice_trace_id) == alice_experiment


def test_new_and_own_traces_export_as_before(party):
    """The everyday path: a plain user exports new traces, then more spans of them,
    in every encoding, into their own experiment."""
    bob_experiment = party.experiment(party.bob)
    for name, content_type, encoding, body in encodings(
            export((os.urandom(16), "root", {}), (os.urandom(16), "other-root", {}))):
        r = post(party, party.bob, bob_experiment, content_type, encoding, body)
        if content_type == "application/json":
            # MLflow 3.10.1 itself reads only protobuf; mlguard let it answer.
            assert r.status_code == 400 and "Content-Type" in r.text, (name, r.text)
        else:
            assert r.status_code == 200, (name, r.text)
    trace_id = "tr-" + os.urandom(16).hex()
    first = export((otel_id(trace_id), "root", {})).SerializeToString()
    second = export((otel_id(trace_id), "child", {})).SerializeToString()
    assert post(party, party.bob, bob_experiment, "application/x-protobuf", None,
                first).status_code == 200
    assert post(party, party.bob, bob_experiment, "application/x-protobuf", "gzip",
                gzip.compress(second)).status_code == 200
    assert party.spans(trace_id) == ["child", "root"]
    assert party.trace_experiment(trace_id) == bob_experiment


def test_bodies_mlguard_cannot_read_are_refused(party, alice_trace):
    _, alice_trace_id = alice_trace
    bob_experiment = party.experiment(party.bob)
    raw = export((otel_id(alice_trace_id), "forged", {})).SerializeToString()
    snake_json = json.dumps({"resource_spans": [{"scope_spans": [{"spans": [
        {"trace_id": otel_id(alice_trace_id).hex(), "span_id": "00" * 7 + "01"}]}]}]}).encode()
    bomb = gzip.compress(b"\0" * (80 * 1024 * 1024))
    cases = [
        ("not protobuf", "application/x-protobuf", None, b"\xff\xff\xff\xff", 400),
        ("unknown encoding", "application/x-protobuf", "br", raw, 400),
        ("gzip, deflate", "application/x-protobuf", "gzip, deflate", raw, 400),
        ("corrupt gzip", "application/x-protobuf", "gzip", raw, 400),
        ("text/plain", "text/plain", None, raw, 400),
        ("snake_case json", "application/json", None, snake_json, 400),
        ("decompression bomb", "application/x-protobuf", "gzip", bomb, 413),
    ]
    for name, content_type, encoding, body, status in cases:
        r = post(party, party.bob, bob_experiment, content_type, encoding, body)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert "error_code" in r.json(), (name, r.text)
    # Two Content-Encoding headers: MLflow and mlguard could pick different ones.
    import http.client
    connection = http.client.HTTPConnection(party.guard.base_url.removeprefix("http://"))
    connection.putrequest("POST", "/v1/traces")
    for name, value in [("Authorization", requests.auth._basic_auth_str(*party.bob)),
                        ("Content-Type", "application/x-protobuf"),
                        ("X-Mlflow-Experiment-Id", bob_experiment),
                        ("Content-Encoding", "identity"), ("Content-Encoding", "gzip"),
                        ("Content-Length", str(len(raw)))]:
        connection.putheader(name, value)
    connection.endheaders(raw)
    answer = connection.getresponse()
    assert answer.status == 400, answer.read()
    connection.close()
    r = party.http(party.bob, "POST", "/v1/traces", data=raw,
                   headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 403, r.text
    assert party.spans(alice_trace_id) == ["alice-root"]
    # mlguard is still serving.
    assert party.http(party.bob, "GET", "/health").status_code == 200


def test_the_stock_opentelemetry_exporter_sends_a_plain_users_traces(party):
    """A plain user, holding only their own experiment, exports spans with the
    OpenTelemetry SDK's own OTLP/HTTP exporter (protobuf, gzip) through mlguard, as
    MLflow's docs describe; the traces land in that experiment."""
    import base64

    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    bob_experiment = party.experiment(party.bob)
    token = base64.b64encode(f"{party.bob[0]}:{party.bob[1]}".encode()).decode()
    exporter = OTLPSpanExporter(
        endpoint=party.guard.base_url + "/v1/traces",
        headers={"Authorization": f"Basic {token}", "x-mlflow-experiment-id": bob_experiment},
        compression=Compression.Gzip,
    )
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("workflow")
    with tracer.start_as_current_span("agent") as root:
        with tracer.start_as_current_span("tool"):
            pass
    provider.shutdown()
    trace_id = "tr-" + format(root.get_span_context().trace_id, "032x")
    assert party.spans(trace_id) == ["agent", "tool"]
    assert party.trace_experiment(trace_id) == bob_experiment
