//! The GraphQL field table: what each root field of MLflow's `/graphql` needs,
//! read from its `input` argument. The gateway parses and rewrites the operation;
//! what a field may do is decided here, next to the route table.

use serde_json::{Map, Value};

use crate::request::run_id_or_uuid;

/// The operation type a root field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphQlRoot {
    Query,
    Mutation,
}

/// Where a field's ids are in its `input`, and what they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldNeed {
    /// Introspection, the echo fields, and lists whose items are filtered afterwards.
    Nothing,
    /// READ on the experiment at this key (non-empty).
    ReadExperiment(&'static str),
    /// READ on every experiment of the list at this key.
    ReadExperiments(&'static str),
    /// A search over the experiments at this key, narrowed to the readable ones as
    /// MLflow narrows it.
    NarrowExperiments(&'static str),
    /// READ on the experiment of the run MLflow's handler reads (`runId`, else
    /// `runUuid`).
    ReadRun,
    /// READ on the experiment of every run of the list at this key.
    ReadRuns(&'static str),
}

/// One root field of MLflow 3.10.1's GraphQL schema.
#[derive(Debug, Clone, Copy)]
pub struct GraphQlField {
    pub roots: &'static [GraphQlRoot],
    pub name: &'static str,
    pub need: FieldNeed,
}

const QUERY: &[GraphQlRoot] = &[GraphQlRoot::Query];
const MUTATION: &[GraphQlRoot] = &[GraphQlRoot::Mutation];
const BOTH: &[GraphQlRoot] = &[GraphQlRoot::Query, GraphQlRoot::Mutation];

const fn field(roots: &'static [GraphQlRoot], name: &'static str, need: FieldNeed) -> GraphQlField {
    GraphQlField { roots, name, need }
}

/// Every root field a non-admin may select. Any other is cut from the query.
pub const GRAPHQL_FIELDS: &[GraphQlField] = &[
    field(BOTH, "__typename", FieldNeed::Nothing),
    field(QUERY, "__schema", FieldNeed::Nothing),
    field(QUERY, "__type", FieldNeed::Nothing),
    field(QUERY, "test", FieldNeed::Nothing),
    field(MUTATION, "testMutation", FieldNeed::Nothing),
    // Its model versions are filtered out of the answer by registered model.
    field(QUERY, "mlflowSearchModelVersions", FieldNeed::Nothing),
    field(
        QUERY,
        "mlflowGetExperiment",
        FieldNeed::ReadExperiment("experimentId"),
    ),
    field(QUERY, "mlflowGetRun", FieldNeed::ReadRun),
    field(QUERY, "mlflowListArtifacts", FieldNeed::ReadRun),
    field(
        QUERY,
        "mlflowGetMetricHistoryBulkInterval",
        FieldNeed::ReadRuns("runIds"),
    ),
    field(
        BOTH,
        "mlflowSearchRuns",
        FieldNeed::NarrowExperiments("experimentIds"),
    ),
    field(
        MUTATION,
        "mlflowSearchDatasets",
        FieldNeed::ReadExperiments("experimentIds"),
    ),
];

/// The row for a root field, if non-admins may select it.
pub fn graphql_field(root: GraphQlRoot, name: &str) -> Option<&'static GraphQlField> {
    GRAPHQL_FIELDS
        .iter()
        .find(|field| field.name == name && field.roots.contains(&root))
}

/// What one root selection needs before it may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Nothing,
    /// READ on each of these experiments.
    ReadExperiments(Vec<String>),
    /// A search over these experiments, narrowed to the readable ones.
    NarrowExperiments(Vec<String>),
    /// READ on the experiment of each of these runs.
    ReadRuns(Vec<String>),
    /// Not decidable before it runs; the reason is for logs.
    Refused(&'static str),
}

/// A string input field; null or absent is `None`.
fn text_field(input: &Map<String, Value>, name: &str) -> Result<Option<String>, &'static str> {
    match input.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err("an id that is not a string"),
    }
}

/// A list-of-strings input field; a lone string counts as a list of one, as
/// GraphQL's input coercion reads it.
fn text_list_field(input: &Map<String, Value>, name: &str) -> Result<Vec<String>, &'static str> {
    let ids = match input.get(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => vec![text.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                _ => Err("an id that is not a string"),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("ids that are not a list"),
    };
    if ids.is_empty() {
        return Err("no id");
    }
    Ok(ids)
}

impl FieldNeed {
    /// Whether deciding this field reads its `input`.
    pub fn reads_input(&self) -> bool {
        *self != FieldNeed::Nothing
    }

    /// What the field needs, given its `input` (variables substituted).
    pub fn requirement(&self, input: &Map<String, Value>) -> Requirement {
        self.read(input).unwrap_or_else(Requirement::Refused)
    }

    fn read(&self, input: &Map<String, Value>) -> Result<Requirement, &'static str> {
        Ok(match *self {
            FieldNeed::Nothing => Requirement::Nothing,
            FieldNeed::ReadExperiment(key) => {
                let id = text_field(input, key)?
                    .filter(|id| !id.is_empty())
                    .ok_or("no experiment id")?;
                Requirement::ReadExperiments(vec![id])
            }
            FieldNeed::ReadExperiments(key) => {
                Requirement::ReadExperiments(text_list_field(input, key)?)
            }
            FieldNeed::NarrowExperiments(key) => {
                Requirement::NarrowExperiments(text_list_field(input, key)?)
            }
            FieldNeed::ReadRun => {
                let run =
                    run_id_or_uuid(text_field(input, "runId")?, text_field(input, "runUuid")?)
                        .map_err(|_| "conflicting 'runId' and 'runUuid'")?
                        .ok_or("no run id")?;
                Requirement::ReadRuns(vec![run])
            }
            FieldNeed::ReadRuns(key) => Requirement::ReadRuns(text_list_field(input, key)?),
        })
    }
}
