//! MLflow's `/graphql` for non-admins: each root field of the operation is
//! authorized by its own arguments.
//!
//! - A field the caller may not read, or that mlguard cannot decide before it runs
//!   (an unknown field, a fragment at the root, a missing id, a variable that was not
//!   provided), is cut from the query before it reaches MLflow. It comes back as
//!   `null` under its response key (the alias, if any) with an error, as MLflow's own
//!   auth middleware answers it.
//! - Model versions are removed from every list in the answer unless the caller may
//!   read their registered model (`mlflowSearchModelVersions`, and the `modelVersions`
//!   of a run, which lists versions of any model linked to it).
//! - MLflow 3.10.1 reads a GraphQL request only from a JSON object body
//!   (`{query, variables, operationName}`), on GET as on POST; it ignores the query
//!   string and answers 500 to batched (array) bodies. Non-admins get 400 for both.
//! - MLflow always executes mlguard's own printing of what was authorized, never the
//!   caller's text, so what runs is exactly what was checked.

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, Response, StatusCode, header};
use graphql_parser::query as ast;
use http_body_util::BodyExt;
use mlguard_domain::{ExperimentId, ModelName, Principal, Resource};
use mlguard_http::ApiError;
use mlguard_policy::{GraphQlRoot, Requirement, graphql_field};
use serde_json::{Map, Value};

use super::Gateway;
use crate::GatewayState;

/// The parsed query, owned so that it can be kept across awaits.
type Document = ast::Document<'static, String>;
type Operation = ast::OperationDefinition<'static, String>;
type SelectionSet = ast::SelectionSet<'static, String>;
type Selection = ast::Selection<'static, String>;
type Field = ast::Field<'static, String>;
type GraphQlValue = ast::Value<'static, String>;
type GraphQlType = ast::Type<'static, String>;
type Directive = ast::Directive<'static, String>;
type VariableDefinition = ast::VariableDefinition<'static, String>;
type FragmentDefinition = ast::FragmentDefinition<'static, String>;
type Arguments = [(String, GraphQlValue)];

/// The alias mlguard adds to every `modelVersions` selection, so that each model
/// version in the answer names its registered model even when the caller did not
/// ask for `name`. It is removed from the answer.
const MODEL_NAME_KEY: &str = "mlguardRegisteredModelName";
/// Largest GraphQL answer mlguard reads to filter.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// The parts of a GraphQL request body MLflow reads.
#[derive(Debug)]
struct Envelope {
    query: String,
    /// As sent: absent or null is forwarded as null.
    variables: Option<Map<String, Value>>,
    operation_name: Option<String>,
}

fn parse_envelope(bytes: &[u8]) -> Result<Envelope, ApiError> {
    let not_an_object = || {
        ApiError::bad_request("A GraphQL request must be a JSON object body with a 'query' string.")
    };
    let mut body = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(body)) => body,
        // MLflow executes one operation per request; it answers 500 to a batch.
        Ok(Value::Array(_)) => {
            return Err(ApiError::bad_request(
                "Batched GraphQL requests are not supported; send one request per query.",
            ));
        }
        Ok(_) | Err(_) => return Err(not_an_object()),
    };
    let query = match body.remove("query") {
        Some(Value::String(query)) => query,
        _ => return Err(not_an_object()),
    };
    let variables = match body.remove("variables") {
        None | Some(Value::Null) => None,
        Some(Value::Object(variables)) => Some(variables),
        Some(_) => {
            return Err(ApiError::bad_request(
                "GraphQL 'variables' must be a JSON object.",
            ));
        }
    };
    let operation_name = match body.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => {
            return Err(ApiError::bad_request(
                "GraphQL 'operationName' must be a string.",
            ));
        }
    };
    Ok(Envelope {
        query,
        variables,
        operation_name,
    })
}

/// One selection at the root of the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RootSelection {
    /// Where the field's answer appears in `data`: its alias, else its name.
    /// `None` for a fragment, which has no single key.
    response_key: Option<String>,
    field_name: Option<String>,
    requirement: Requirement,
    /// For a narrowing field: its whole `input`, variables substituted, to send
    /// again with only the readable ids.
    input: Option<Map<String, Value>>,
}

/// The chosen operation and what each of its root selections needs.
#[derive(Debug)]
struct Plan {
    operation_index: usize,
    selections: Vec<RootSelection>,
}

struct OperationParts<'d> {
    kind: Option<GraphQlRoot>,
    name: Option<&'d str>,
    variable_definitions: &'d [VariableDefinition],
    directives: &'d [Directive],
    selection_set: &'d SelectionSet,
}

fn operation_parts(operation: &Operation) -> OperationParts<'_> {
    match operation {
        ast::OperationDefinition::SelectionSet(selection_set) => OperationParts {
            kind: Some(GraphQlRoot::Query),
            name: None,
            variable_definitions: &[],
            directives: &[],
            selection_set,
        },
        ast::OperationDefinition::Query(q) => OperationParts {
            kind: Some(GraphQlRoot::Query),
            name: q.name.as_deref(),
            variable_definitions: &q.variable_definitions,
            directives: &q.directives,
            selection_set: &q.selection_set,
        },
        ast::OperationDefinition::Mutation(m) => OperationParts {
            kind: Some(GraphQlRoot::Mutation),
            name: m.name.as_deref(),
            variable_definitions: &m.variable_definitions,
            directives: &m.directives,
            selection_set: &m.selection_set,
        },
        // MLflow's schema has no subscriptions.
        ast::OperationDefinition::Subscription(s) => OperationParts {
            kind: None,
            name: s.name.as_deref(),
            variable_definitions: &s.variable_definitions,
            directives: &s.directives,
            selection_set: &s.selection_set,
        },
    }
}

fn selection_set_mut(operation: &mut Operation) -> &mut SelectionSet {
    match operation {
        ast::OperationDefinition::SelectionSet(selection_set) => selection_set,
        ast::OperationDefinition::Query(q) => &mut q.selection_set,
        ast::OperationDefinition::Mutation(m) => &mut m.selection_set,
        ast::OperationDefinition::Subscription(s) => &mut s.selection_set,
    }
}

fn variable_definitions_mut(operation: &mut Operation) -> Option<&mut Vec<VariableDefinition>> {
    match operation {
        ast::OperationDefinition::SelectionSet(_) => None,
        ast::OperationDefinition::Query(q) => Some(&mut q.variable_definitions),
        ast::OperationDefinition::Mutation(m) => Some(&mut m.variable_definitions),
        ast::OperationDefinition::Subscription(s) => Some(&mut s.variable_definitions),
    }
}

/// The operation MLflow would execute, chosen as graphql-core chooses it.
fn select_operation(document: &Document, name: Option<&str>) -> Result<usize, ApiError> {
    let operations: Vec<(usize, &Operation)> = document
        .definitions
        .iter()
        .enumerate()
        .filter_map(|(index, definition)| match definition {
            ast::Definition::Operation(operation) => Some((index, operation)),
            ast::Definition::Fragment(_) => None,
        })
        .collect();
    let chosen = match name {
        Some(name) => operations
            .iter()
            .find(|(_, operation)| operation_parts(operation).name == Some(name)),
        None if operations.len() == 1 => operations.first(),
        None => {
            return Err(ApiError::bad_request(
                "The GraphQL document holds several operations; name one in 'operationName'.",
            ));
        }
    };
    let Some((index, operation)) = chosen else {
        return Err(ApiError::bad_request(
            "The GraphQL document holds no operation of that name.",
        ));
    };
    if operation_parts(operation).kind.is_none() {
        return Err(ApiError::bad_request(
            "GraphQL subscriptions are not supported.",
        ));
    }
    Ok(*index)
}

/// The operation's variables, as graphql-core would see them.
struct VariableScope<'a> {
    definitions: &'a [VariableDefinition],
    provided: &'a Map<String, Value>,
}

impl VariableScope<'_> {
    /// `Ok(None)` when the variable was not provided and has no default.
    fn value_of(&self, name: &str) -> Result<Option<Value>, &'static str> {
        let definition = self
            .definitions
            .iter()
            .find(|definition| definition.name == name)
            .ok_or("a variable the operation does not define")?;
        if let Some(value) = self.provided.get(name) {
            return Ok(Some(value.clone()));
        }
        match &definition.default_value {
            None => Ok(None),
            // A default is a constant: no variables of its own.
            Some(default) => json_of(
                default,
                &VariableScope {
                    definitions: &[],
                    provided: &Map::new(),
                },
            ),
        }
    }
}

/// An argument value as JSON, with variables substituted; `None` when it is absent.
fn json_of(value: &GraphQlValue, scope: &VariableScope<'_>) -> Result<Option<Value>, &'static str> {
    Ok(Some(match value {
        ast::Value::Variable(name) => return scope.value_of(name),
        ast::Value::Int(number) => Value::from(number.as_i64().ok_or("an integer out of range")?),
        ast::Value::Float(float) => serde_json::Number::from_f64(*float)
            .map(Value::Number)
            .ok_or("a float out of range")?,
        ast::Value::String(text) => Value::String(text.clone()),
        ast::Value::Boolean(flag) => Value::Bool(*flag),
        ast::Value::Null => Value::Null,
        ast::Value::Enum(name) => Value::String(name.clone()),
        ast::Value::List(items) => Value::Array(
            items
                .iter()
                // graphql-core reads a missing variable inside a list as null.
                .map(|item| Ok(json_of(item, scope)?.unwrap_or(Value::Null)))
                .collect::<Result<_, &'static str>>()?,
        ),
        ast::Value::Object(fields) => {
            let mut object = Map::new();
            for (name, field) in fields {
                // A field whose variable was not provided is left out, not null.
                if let Some(value) = json_of(field, scope)? {
                    object.insert(name.clone(), value);
                }
            }
            Value::Object(object)
        }
    }))
}

/// The field's `input` argument as an object; empty when it has none.
fn input_of(field: &Field, scope: &VariableScope<'_>) -> Result<Map<String, Value>, &'static str> {
    let mut inputs = field.arguments.iter().filter(|(name, _)| name == "input");
    let input = match (inputs.next(), inputs.next()) {
        (None, _) => return Ok(Map::new()),
        (Some(_), Some(_)) => return Err("the 'input' argument given twice"),
        (Some((_, input)), None) => input,
    };
    match json_of(input, scope)? {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(input)) => Ok(input),
        Some(_) => Err("an 'input' that is not an object"),
    }
}

/// What a root field needs, by the policy's field table.
fn requirement_of(kind: GraphQlRoot, field: &Field, scope: &VariableScope<'_>) -> Requirement {
    let Some(row) = graphql_field(kind, &field.name) else {
        return Requirement::Refused("a root field mlguard does not know");
    };
    if !row.need.reads_input() {
        return Requirement::Nothing;
    }
    match input_of(field, scope) {
        Ok(input) => row.need.requirement(&input),
        Err(reason) => Requirement::Refused(reason),
    }
}

fn plan(
    document: &Document,
    operation_name: Option<&str>,
    variables: &Map<String, Value>,
) -> Result<Plan, ApiError> {
    let operation_index = select_operation(document, operation_name)?;
    let ast::Definition::Operation(operation) = &document.definitions[operation_index] else {
        return Err(ApiError::internal(
            &"the chosen definition is not an operation",
        ));
    };
    let parts = operation_parts(operation);
    let kind = parts
        .kind
        .ok_or_else(|| ApiError::internal(&"the chosen operation has no root type"))?;
    let scope = VariableScope {
        definitions: parts.variable_definitions,
        provided: variables,
    };
    let selections = parts
        .selection_set
        .items
        .iter()
        .map(|selection| match selection {
            ast::Selection::Field(field) => {
                let requirement = requirement_of(kind, field, &scope);
                let input = matches!(requirement, Requirement::NarrowExperiments(_))
                    .then(|| input_of(field, &scope).ok())
                    .flatten();
                RootSelection {
                    response_key: Some(field.alias.as_ref().unwrap_or(&field.name).clone()),
                    field_name: Some(field.name.clone()),
                    requirement,
                    input,
                }
            }
            // Which fields a root fragment selects is not checked field by field.
            ast::Selection::FragmentSpread(_) | ast::Selection::InlineFragment(_) => {
                RootSelection {
                    response_key: None,
                    field_name: None,
                    requirement: Requirement::Refused("a fragment at the root"),
                    input: None,
                }
            }
        })
        .collect();
    Ok(Plan {
        operation_index,
        selections,
    })
}

// ---------------------------------------------------------------------------------
// Rewriting: what MLflow gets.

/// Calls `visit` on every selection in `set` and below, without following spreads.
fn each_selection<'d>(set: &'d SelectionSet, visit: &mut impl FnMut(&'d Selection)) {
    for selection in &set.items {
        visit(selection);
        match selection {
            ast::Selection::Field(field) => each_selection(&field.selection_set, visit),
            ast::Selection::InlineFragment(fragment) => {
                each_selection(&fragment.selection_set, visit);
            }
            ast::Selection::FragmentSpread(_) => {}
        }
    }
}

fn spread_names<'d>(set: &'d SelectionSet, names: &mut Vec<&'d str>) {
    each_selection(set, &mut |selection| {
        if let ast::Selection::FragmentSpread(spread) = selection {
            names.push(&spread.fragment_name);
        }
    });
}

fn value_variables(value: &GraphQlValue, used: &mut HashSet<String>) {
    match value {
        ast::Value::Variable(name) => {
            used.insert(name.clone());
        }
        ast::Value::List(items) => items.iter().for_each(|item| value_variables(item, used)),
        ast::Value::Object(fields) => fields.values().for_each(|v| value_variables(v, used)),
        _ => {}
    }
}

fn directive_variables(directives: &[Directive], used: &mut HashSet<String>) {
    for directive in directives {
        for (_, value) in &directive.arguments {
            value_variables(value, used);
        }
    }
}

fn selection_variables(set: &SelectionSet, used: &mut HashSet<String>) {
    each_selection(set, &mut |selection| match selection {
        ast::Selection::Field(field) => {
            for (_, value) in &field.arguments {
                value_variables(value, used);
            }
            directive_variables(&field.directives, used);
        }
        ast::Selection::FragmentSpread(spread) => directive_variables(&spread.directives, used),
        ast::Selection::InlineFragment(fragment) => {
            directive_variables(&fragment.directives, used);
        }
    });
}

/// Adds `mlguardRegisteredModelName: name` to every `modelVersions` selection.
fn request_model_names(set: &mut SelectionSet) {
    for selection in &mut set.items {
        match selection {
            ast::Selection::Field(field) => {
                if field.name == "modelVersions" {
                    field
                        .selection_set
                        .items
                        .push(ast::Selection::Field(ast::Field {
                            position: field.position,
                            alias: Some(MODEL_NAME_KEY.to_owned()),
                            name: "name".to_owned(),
                            arguments: Vec::new(),
                            directives: Vec::new(),
                            selection_set: ast::SelectionSet {
                                span: field.selection_set.span,
                                items: Vec::new(),
                            },
                        }));
                }
                request_model_names(&mut field.selection_set);
            }
            ast::Selection::InlineFragment(fragment) => {
                request_model_names(&mut fragment.selection_set);
            }
            ast::Selection::FragmentSpread(_) => {}
        }
    }
}

/// The query MLflow gets: the operation with only the root selections in `keep`, the
/// fragments and variables it still uses (graphql-core rejects unused ones), and the
/// model name requested wherever model versions are. `None` when nothing is left.
/// Variables mlguard adds for narrowed inputs; more narrowed fields in one
/// operation than names here are refused.
const NARROWED_INPUTS: [&str; 4] = [
    "mlguardNarrowedInput0",
    "mlguardNarrowedInput1",
    "mlguardNarrowedInput2",
    "mlguardNarrowedInput3",
];
/// The input type of `mlflowSearchRuns` in MLflow's schema.
const SEARCH_RUNS_INPUT_TYPE: &str = "MlflowSearchRunsInput";

/// What happens to one root selection.
#[derive(Debug, Clone, PartialEq)]
enum Fate {
    Run,
    Cut,
    /// Run with this `input` instead of the caller's (`mlflowSearchRuns` narrowed).
    RunWith(Map<String, Value>),
}

/// Points each narrowed field's `input` at a variable of its own, declared on the
/// operation; returns the variables to send.
fn narrow_inputs(
    operation: &mut Operation,
    fates: &[Fate],
) -> Result<Map<String, Value>, ApiError> {
    let narrowed: Vec<(usize, &Map<String, Value>)> = fates
        .iter()
        .enumerate()
        .filter_map(|(index, fate)| match fate {
            Fate::RunWith(input) => Some((index, input)),
            Fate::Run | Fate::Cut => None,
        })
        .collect();
    let mut variables = Map::new();
    if narrowed.is_empty() {
        return Ok(variables);
    }
    if narrowed.len() > NARROWED_INPUTS.len() {
        return Err(ApiError::bad_request(
            "Too many narrowed searches in one GraphQL operation.",
        ));
    }
    // A shorthand `{ ... }` cannot declare variables: spell it as a query.
    if let ast::OperationDefinition::SelectionSet(selection_set) = operation {
        *operation = ast::OperationDefinition::Query(ast::Query {
            position: selection_set.span.0,
            name: None,
            variable_definitions: Vec::new(),
            directives: Vec::new(),
            selection_set: selection_set.clone(),
        });
    }
    for ((index, input), variable) in narrowed.into_iter().zip(NARROWED_INPUTS) {
        let root = selection_set_mut(operation);
        let Some(ast::Selection::Field(field)) = root.items.get_mut(index) else {
            return Err(ApiError::internal(&"a narrowed selection is not a field"));
        };
        field.arguments.retain(|(name, _)| name != "input");
        field.arguments.push((
            "input".to_owned(),
            ast::Value::Variable(variable.to_owned()),
        ));
        let position = field.position;
        if let Some(definitions) = variable_definitions_mut(operation) {
            definitions.push(ast::VariableDefinition {
                position,
                name: variable.to_owned(),
                var_type: ast::Type::NamedType(SEARCH_RUNS_INPUT_TYPE.to_owned()),
                default_value: None,
            });
        }
        variables.insert(variable.to_owned(), Value::Object(input.clone()));
    }
    Ok(variables)
}

/// What a search narrowed to nothing answers, for the fields the caller selected:
/// no runs, and nothing else.
fn empty_search_answer(document: &Document, plan: &Plan, index: usize) -> Value {
    let mut answer = Map::new();
    if let ast::Definition::Operation(operation) = &document.definitions[plan.operation_index]
        && let Some(ast::Selection::Field(field)) =
            operation_parts(operation).selection_set.items.get(index)
    {
        for item in &field.selection_set.items {
            if let ast::Selection::Field(inner) = item {
                let value = match inner.name.as_str() {
                    "runs" => Value::Array(Vec::new()),
                    "__typename" => Value::String("MlflowSearchRunsResponse".to_owned()),
                    _ => Value::Null,
                };
                answer.insert(inner.alias.as_ref().unwrap_or(&inner.name).clone(), value);
            }
        }
    }
    Value::Object(answer)
}

/// A printed query and the variables mlguard added to it.
type Rewritten = (String, Map<String, Value>);

/// The query to send, and the variables mlguard added; `None` when nothing runs.
fn rewrite(
    document: &Document,
    plan: &Plan,
    fates: &[Fate],
) -> Result<Option<Rewritten>, ApiError> {
    let ast::Definition::Operation(operation) = &document.definitions[plan.operation_index] else {
        return Err(ApiError::internal(
            &"the chosen definition is not an operation",
        ));
    };
    let mut operation = operation.clone();
    let added_variables = narrow_inputs(&mut operation, fates)?;
    let root = selection_set_mut(&mut operation);
    let mut index = 0;
    root.items.retain(|_| {
        let kept = fates.get(index).is_some_and(|fate| *fate != Fate::Cut);
        index += 1;
        kept
    });
    if root.items.is_empty() {
        return Ok(None);
    }
    request_model_names(root);

    // The fragments still reachable from what is left.
    let mut pending = Vec::new();
    spread_names(root, &mut pending);
    let mut reached: HashSet<&str> = HashSet::new();
    let mut fragments: Vec<FragmentDefinition> = Vec::new();
    while let Some(name) = pending.pop() {
        if !reached.insert(name) {
            continue;
        }
        for definition in &document.definitions {
            if let ast::Definition::Fragment(fragment) = definition
                && fragment.name == name
            {
                spread_names(&fragment.selection_set, &mut pending);
                let mut fragment = fragment.clone();
                request_model_names(&mut fragment.selection_set);
                fragments.push(fragment);
            }
        }
    }
    // Keep the caller's order of fragments, for readable upstream logs.
    fragments.sort_by_key(|fragment| fragment.position);

    let mut used = HashSet::new();
    {
        let parts = operation_parts(&operation);
        directive_variables(parts.directives, &mut used);
        selection_variables(parts.selection_set, &mut used);
    }
    for fragment in &fragments {
        directive_variables(&fragment.directives, &mut used);
        selection_variables(&fragment.selection_set, &mut used);
    }
    if let Some(definitions) = variable_definitions_mut(&mut operation) {
        definitions.retain(|definition| used.contains(&definition.name));
    }

    let mut printer = Printer::default();
    printer
        .operation(&operation)
        .and_then(|()| {
            fragments
                .iter()
                .try_for_each(|fragment| printer.fragment(fragment))
        })
        .map_err(|Unprintable| {
            ApiError::bad_request("The GraphQL query holds a value out of range.")
        })?;
    Ok(Some((printer.out, added_variables)))
}

/// A value the printer cannot write back faithfully (a float out of range).
#[derive(Debug)]
struct Unprintable;

/// Writes a document in GraphQL syntax. mlguard prints what it forwards itself: the
/// library's printer writes multi-line strings as unescaped block strings and
/// non-printable characters as decimal escapes, either of which would let MLflow
/// read something other than what was authorized.
#[derive(Debug, Default)]
struct Printer {
    out: String,
}

impl Printer {
    fn operation(&mut self, operation: &Operation) -> Result<(), Unprintable> {
        let parts = operation_parts(operation);
        self.out.push_str(match parts.kind {
            Some(GraphQlRoot::Mutation) => "mutation",
            Some(GraphQlRoot::Query) | None => "query",
        });
        if let Some(name) = parts.name {
            self.out.push(' ');
            self.out.push_str(name);
        }
        if !parts.variable_definitions.is_empty() {
            self.out.push('(');
            for (index, definition) in parts.variable_definitions.iter().enumerate() {
                if index > 0 {
                    self.out.push_str(", ");
                }
                self.out.push('$');
                self.out.push_str(&definition.name);
                self.out.push_str(": ");
                self.type_name(&definition.var_type);
                if let Some(default) = &definition.default_value {
                    self.out.push_str(" = ");
                    self.value(default)?;
                }
            }
            self.out.push(')');
        }
        self.directives(parts.directives)?;
        self.selection_set(parts.selection_set)?;
        self.out.push('\n');
        Ok(())
    }

    fn fragment(&mut self, fragment: &FragmentDefinition) -> Result<(), Unprintable> {
        let ast::TypeCondition::On(type_name) = &fragment.type_condition;
        self.out.push_str("fragment ");
        self.out.push_str(&fragment.name);
        self.out.push_str(" on ");
        self.out.push_str(type_name);
        self.directives(&fragment.directives)?;
        self.selection_set(&fragment.selection_set)?;
        self.out.push('\n');
        Ok(())
    }

    fn selection_set(&mut self, set: &SelectionSet) -> Result<(), Unprintable> {
        if set.items.is_empty() {
            return Ok(());
        }
        self.out.push_str(" {");
        for selection in &set.items {
            self.out.push(' ');
            match selection {
                ast::Selection::Field(field) => {
                    if let Some(alias) = &field.alias {
                        self.out.push_str(alias);
                        self.out.push_str(": ");
                    }
                    self.out.push_str(&field.name);
                    self.arguments(&field.arguments)?;
                    self.directives(&field.directives)?;
                    self.selection_set(&field.selection_set)?;
                }
                ast::Selection::FragmentSpread(spread) => {
                    self.out.push_str("...");
                    self.out.push_str(&spread.fragment_name);
                    self.directives(&spread.directives)?;
                }
                ast::Selection::InlineFragment(fragment) => {
                    self.out.push_str("...");
                    if let Some(ast::TypeCondition::On(type_name)) = &fragment.type_condition {
                        self.out.push_str(" on ");
                        self.out.push_str(type_name);
                    }
                    self.directives(&fragment.directives)?;
                    self.selection_set(&fragment.selection_set)?;
                }
            }
        }
        self.out.push_str(" }");
        Ok(())
    }

    fn directives(&mut self, directives: &[Directive]) -> Result<(), Unprintable> {
        for directive in directives {
            self.out.push_str(" @");
            self.out.push_str(&directive.name);
            self.arguments(&directive.arguments)?;
        }
        Ok(())
    }

    fn arguments(&mut self, arguments: &Arguments) -> Result<(), Unprintable> {
        if arguments.is_empty() {
            return Ok(());
        }
        self.out.push('(');
        for (index, (name, value)) in arguments.iter().enumerate() {
            if index > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str(name);
            self.out.push_str(": ");
            self.value(value)?;
        }
        self.out.push(')');
        Ok(())
    }

    fn type_name(&mut self, type_name: &GraphQlType) {
        match type_name {
            ast::Type::NamedType(name) => self.out.push_str(name),
            ast::Type::ListType(inner) => {
                self.out.push('[');
                self.type_name(inner);
                self.out.push(']');
            }
            ast::Type::NonNullType(inner) => {
                self.type_name(inner);
                self.out.push('!');
            }
        }
    }

    fn value(&mut self, value: &GraphQlValue) -> Result<(), Unprintable> {
        match value {
            ast::Value::Variable(name) => {
                self.out.push('$');
                self.out.push_str(name);
            }
            ast::Value::Int(number) => {
                self.out
                    .push_str(&number.as_i64().ok_or(Unprintable)?.to_string());
            }
            // `{:?}` always writes a '.' or an exponent, so it stays a float.
            ast::Value::Float(float) if float.is_finite() => {
                self.out.push_str(&format!("{float:?}"));
            }
            ast::Value::Float(_) => return Err(Unprintable),
            ast::Value::String(text) => self.string(text),
            ast::Value::Boolean(flag) => self.out.push_str(if *flag { "true" } else { "false" }),
            ast::Value::Null => self.out.push_str("null"),
            ast::Value::Enum(name) => self.out.push_str(name),
            ast::Value::List(items) => {
                self.out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        self.out.push_str(", ");
                    }
                    self.value(item)?;
                }
                self.out.push(']');
            }
            ast::Value::Object(fields) => {
                self.out.push('{');
                for (index, (name, field)) in fields.iter().enumerate() {
                    if index > 0 {
                        self.out.push_str(", ");
                    }
                    self.out.push_str(name);
                    self.out.push_str(": ");
                    self.value(field)?;
                }
                self.out.push('}');
            }
        }
        Ok(())
    }

    /// Always a one-line quoted string: quotes, backslashes and control characters
    /// escaped, everything else as is.
    fn string(&mut self, text: &str) {
        self.out.push('"');
        for c in text.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                    self.out.push_str(&format!("\\u{:04X}", u32::from(c)));
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

// ---------------------------------------------------------------------------------
// The answer.

/// The registered-model name of every model version in the answer.
fn model_version_names(value: &Value, names: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(name)) = object.get(MODEL_NAME_KEY) {
                names.insert(name.clone());
            }
            object.values().for_each(|v| model_version_names(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| model_version_names(v, names)),
        _ => {}
    }
}

/// Removes from every list the model versions whose registered model is not in
/// `readable` (a version whose name is not a string counts as unreadable), and the
/// added name key from what is left.
fn drop_unreadable_model_versions(value: &mut Value, readable: &BTreeSet<String>) {
    match value {
        Value::Array(items) => {
            items.retain(|item| match item.get(MODEL_NAME_KEY) {
                None => true,
                Some(Value::String(name)) => readable.contains(name),
                Some(_) => false,
            });
            items
                .iter_mut()
                .for_each(|item| drop_unreadable_model_versions(item, readable));
        }
        Value::Object(object) => {
            object.remove(MODEL_NAME_KEY);
            object
                .values_mut()
                .for_each(|v| drop_unreadable_model_versions(v, readable));
        }
        _ => {}
    }
}

/// A root selection that was cut from the query.
#[derive(Debug)]
struct Denial {
    response_key: Option<String>,
}

impl Denial {
    fn message(&self) -> String {
        match &self.response_key {
            Some(key) => format!("Permission denied for field '{key}'."),
            None => "Permission denied for a fragment at the root of the operation.".to_owned(),
        }
    }
}

/// `null` under each denied key (over whatever is there) and one error each, in
/// MLflow's shape: `errors` is a list of message strings.
fn merge_denials(answer: &mut Map<String, Value>, denials: &[Denial]) -> Result<(), ApiError> {
    if denials.is_empty() {
        return Ok(());
    }
    if let Some(Value::Object(data)) = answer.get_mut("data") {
        for key in denials.iter().filter_map(|d| d.response_key.as_ref()) {
            data.insert(key.clone(), Value::Null);
        }
    }
    let messages = denials.iter().map(|d| Value::String(d.message()));
    match answer.get_mut("errors") {
        Some(Value::Array(errors)) => errors.extend(messages),
        None | Some(Value::Null) => {
            answer.insert("errors".to_owned(), Value::Array(messages.collect()));
        }
        Some(_) => return Err(ApiError::internal(&"GraphQL 'errors' is not a list")),
    }
    Ok(())
}

fn json_response(
    status: StatusCode,
    mut headers: axum::http::HeaderMap,
    answer: &Map<String, Value>,
) -> Result<Response<Body>, ApiError> {
    let bytes = Bytes::from(serde_json::to_vec(answer).map_err(|e| ApiError::internal(&e))?);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONTENT_ENCODING);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

// ---------------------------------------------------------------------------------
// Authorization.

async fn allowed(
    state: &GatewayState,
    gateway: &Gateway,
    caller: &Principal,
    requirement: &Requirement,
) -> Result<bool, ApiError> {
    let mut experiments = Vec::new();
    match requirement {
        Requirement::Nothing => return Ok(true),
        Requirement::Refused(_) => return Ok(false),
        Requirement::ReadExperiments(ids) | Requirement::NarrowExperiments(ids) => {
            for id in ids {
                // MLflow would read "007" as experiment 7; only the canonical form passes.
                let Ok(id) = ExperimentId::parse(id) else {
                    return Ok(false);
                };
                experiments.push(Resource::Experiment(id));
            }
        }
        Requirement::ReadRuns(ids) => {
            for id in ids {
                match gateway
                    .request_lookup()
                    .experiment_of_run(id)
                    .await
                    .map_err(ApiError::lookup_failed)?
                {
                    Some(experiment) => experiments.push(Resource::Experiment(experiment)),
                    None => return Ok(false),
                }
            }
        }
    }
    Ok(state
        .grants
        .readable(caller, experiments.into_iter().map(Some).collect())
        .await?
        .into_iter()
        .all(|ok| ok))
}

/// The canonical ids among `ids` that the caller may read, in order.
async fn readable_experiments(
    state: &GatewayState,
    caller: &Principal,
    ids: &[String],
) -> Result<Vec<String>, ApiError> {
    let canonical: Vec<String> = ids
        .iter()
        .filter(|id| ExperimentId::parse(id).is_ok())
        .cloned()
        .collect();
    let resources = canonical
        .iter()
        .map(|id| ExperimentId::parse(id).ok().map(Resource::Experiment))
        .collect();
    let verdicts = state.grants.readable(caller, resources).await?;
    Ok(canonical
        .into_iter()
        .zip(verdicts)
        .filter_map(|(id, ok)| ok.then_some(id))
        .collect())
}

/// Puts each narrowed-to-nothing search's answer under its key.
fn merge_empty_answers(answer: &mut Map<String, Value>, empty: Vec<(String, Value)>) {
    if let Some(Value::Object(data)) = answer.get_mut("data") {
        data.extend(empty);
    }
}

/// The deepest nesting of selection sets under `set`, following fragment spreads;
/// stops counting once past `limit` (so cycles and floods end early).
fn depth_of(set: &SelectionSet, fragments: &[&FragmentDefinition], limit: usize) -> usize {
    if limit == 0 {
        return 1;
    }
    let mut deepest = 0;
    for selection in &set.items {
        let below = match selection {
            ast::Selection::Field(field) if field.selection_set.items.is_empty() => 0,
            ast::Selection::Field(field) => depth_of(&field.selection_set, fragments, limit - 1),
            ast::Selection::InlineFragment(inline) => {
                depth_of(&inline.selection_set, fragments, limit - 1)
            }
            ast::Selection::FragmentSpread(spread) => fragments
                .iter()
                .find(|fragment| fragment.name == spread.fragment_name)
                .map_or(0, |fragment| {
                    depth_of(&fragment.selection_set, fragments, limit - 1)
                }),
        };
        deepest = deepest.max(below);
        if deepest >= limit {
            break;
        }
    }
    deepest + 1
}

/// Refuses, before any decision, an operation beyond the configured bounds.
fn within_limits(
    document: &Document,
    plan: &Plan,
    limits: &super::GraphQlLimits,
) -> Result<(), ApiError> {
    if plan.selections.len() > limits.max_root_fields {
        return Err(ApiError::bad_request(format!(
            "The GraphQL operation has more than {} root fields.",
            limits.max_root_fields
        )));
    }
    let fragments: Vec<&FragmentDefinition> = document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            ast::Definition::Fragment(fragment) => Some(fragment),
            ast::Definition::Operation(_) => None,
        })
        .collect();
    if let ast::Definition::Operation(operation) = &document.definitions[plan.operation_index] {
        let root = operation_parts(operation).selection_set;
        if depth_of(root, &fragments, limits.max_depth + 1) > limits.max_depth {
            return Err(ApiError::bad_request(format!(
                "The GraphQL operation nests deeper than {} levels.",
                limits.max_depth
            )));
        }
    }
    Ok(())
}

fn parse_document(query: &str) -> Result<Document, ApiError> {
    ast::parse_query::<String>(query)
        .map(ast::Document::into_static)
        .map_err(|_| ApiError::bad_request("The GraphQL query could not be parsed."))
}

/// Authorizes a non-admin's GraphQL request field by field, forwards what may run,
/// and filters the answer.
pub(crate) async fn authorize_and_forward(
    state: &GatewayState,
    gateway: &Gateway,
    caller: &Principal,
    request: Request,
    client: Option<IpAddr>,
) -> Result<Response<Body>, ApiError> {
    let (mut parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, gateway.max_body_bytes())
        .await
        .map_err(|_| ApiError::payload_too_large())?;
    let envelope = parse_envelope(&bytes)?;
    let limits = gateway.graphql_limits();
    if envelope.query.len() > limits.max_query_bytes {
        return Err(ApiError::bad_request(format!(
            "The GraphQL query is longer than {} bytes.",
            limits.max_query_bytes
        )));
    }
    let no_variables = Map::new();
    let document = parse_document(&envelope.query)?;
    let plan = plan(
        &document,
        envelope.operation_name.as_deref(),
        envelope.variables.as_ref().unwrap_or(&no_variables),
    )?;
    within_limits(&document, &plan, &limits)?;

    let mut fates = Vec::with_capacity(plan.selections.len());
    let mut denials = Vec::new();
    // Searches narrowed to nothing: answered here, by response key.
    let mut empty_searches = Vec::new();
    for (index, selection) in plan.selections.iter().enumerate() {
        let ok = allowed(state, gateway, caller, &selection.requirement).await?;
        if let (false, Requirement::NarrowExperiments(ids), Some(input)) =
            (ok, &selection.requirement, &selection.input)
        {
            let kept = readable_experiments(state, caller, ids).await?;
            if kept.is_empty() {
                empty_searches.push((index, selection.response_key.clone()));
                fates.push(Fate::Cut);
            } else {
                let mut input = input.clone();
                input.insert(
                    "experimentIds".to_owned(),
                    Value::Array(kept.into_iter().map(Value::String).collect()),
                );
                fates.push(Fate::RunWith(input));
            }
            continue;
        }
        if !ok {
            let reason = match selection.requirement {
                Requirement::Refused(reason) => reason,
                _ => "no READ permission",
            };
            tracing::info!(graphql.field = ?selection.field_name,
                graphql.response_key = ?selection.response_key, reason, "denied: graphql field");
            denials.push(Denial {
                response_key: selection.response_key.clone(),
            });
        }
        fates.push(if ok { Fate::Run } else { Fate::Cut });
    }
    let empty_answers: Vec<(String, Value)> = empty_searches
        .into_iter()
        .filter_map(|(index, key)| {
            key.map(|key| (key, empty_search_answer(&document, &plan, index)))
        })
        .collect();

    let Some((query, added_variables)) = rewrite(&document, &plan, &fates)? else {
        // Nothing may run: MLflow is not asked at all.
        let mut answer = Map::new();
        answer.insert("data".to_owned(), Value::Object(Map::new()));
        answer.insert("errors".to_owned(), Value::Null);
        merge_denials(&mut answer, &denials)?;
        merge_empty_answers(&mut answer, empty_answers);
        return json_response(StatusCode::OK, axum::http::HeaderMap::new(), &answer);
    };
    let variables = if added_variables.is_empty() {
        envelope.variables.clone()
    } else {
        let mut variables = envelope.variables.clone().unwrap_or_default();
        variables.extend(added_variables);
        Some(variables)
    };

    let forwarded = serde_json::json!({
        "query": query,
        "variables": variables,
        "operationName": envelope.operation_name,
    });
    let forwarded = serde_json::to_vec(&forwarded).map_err(|e| ApiError::internal(&e))?;
    let headers = &mut parts.headers;
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::CONTENT_ENCODING);
    // mlguard reads the answer; a compressed one could not be filtered.
    headers.remove(header::ACCEPT_ENCODING);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(forwarded.len()));
    if parts.method == Method::HEAD {
        // As the rest of the gateway does: MLflow answers the GET; the server drops
        // the body of a HEAD answer.
        parts.method = Method::GET;
    }
    let response = gateway
        .send(Request::from_parts(parts, Body::from(forwarded)), client)
        .await?;
    if !response.status().is_success() {
        // MLflow's GraphQL errors (bad content type, crashes) carry no data.
        return Ok(response);
    }

    let (response_parts, body) = response.into_parts();
    let bytes = http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| ApiError::internal(&format!("reading a GraphQL answer: {e}")))?
        .to_bytes();
    let mut answer = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(answer)) => answer,
        _ => {
            return Err(ApiError::internal(
                &"a GraphQL answer that is not a JSON object",
            ));
        }
    };
    if let Some(data) = answer.get_mut("data") {
        let mut names = BTreeSet::new();
        model_version_names(data, &mut names);
        let mut readable_names = BTreeSet::new();
        if !names.is_empty() {
            // Each name as its stored tags make it: a prompt's versions are decided
            // by the prompt's grants. A name gone since MLflow answered shows nothing.
            let mut parsed: Vec<(String, Resource)> = Vec::with_capacity(names.len());
            for name in names {
                let Ok(model) = ModelName::parse(&name) else {
                    continue;
                };
                let kind = gateway
                    .request_lookup()
                    .registered_model_kind(model.as_str())
                    .await
                    .map_err(ApiError::lookup_failed)?;
                if let Some(kind) = kind {
                    parsed.push((name, kind.resource(model)));
                }
            }
            // Built apart from the await: a borrowing iterator held across it would
            // make the future not `Send`.
            let resources: Vec<Resource> = parsed
                .iter()
                .map(|(_, resource)| resource.clone())
                .collect();
            let verdicts = state
                .grants
                .readable(caller, resources.into_iter().map(Some).collect())
                .await?;
            readable_names.extend(
                parsed
                    .into_iter()
                    .zip(verdicts)
                    .filter_map(|((name, _), ok)| ok.then_some(name)),
            );
        }
        drop_unreadable_model_versions(data, &readable_names);
    }
    merge_denials(&mut answer, &denials)?;
    merge_empty_answers(&mut answer, empty_answers);
    json_response(response_parts.status, response_parts.headers, &answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables(json: Value) -> Map<String, Value> {
        match json {
            Value::Object(map) => map,
            _ => panic!("variables must be an object"),
        }
    }

    fn plan_of(query: &str, operation: Option<&str>, vars: Value) -> Vec<RootSelection> {
        let document = parse_document(query).expect("query parses");
        plan(&document, operation, &variables(vars))
            .expect("plannable")
            .selections
    }

    fn requirements(query: &str, vars: Value) -> Vec<(Option<String>, Requirement)> {
        plan_of(query, None, vars)
            .into_iter()
            .map(|s| (s.response_key, s.requirement))
            .collect()
    }

    fn key(k: &str) -> Option<String> {
        Some(k.to_owned())
    }

    fn runs(ids: &[&str]) -> Requirement {
        Requirement::ReadRuns(ids.iter().map(|id| (*id).to_owned()).collect())
    }

    fn experiments(ids: &[&str]) -> Requirement {
        Requirement::ReadExperiments(ids.iter().map(|id| (*id).to_owned()).collect())
    }

    fn narrowed(ids: &[&str]) -> Requirement {
        Requirement::NarrowExperiments(ids.iter().map(|id| (*id).to_owned()).collect())
    }

    fn refused(requirement: &Requirement) -> bool {
        matches!(requirement, Requirement::Refused(_))
    }

    fn limited(query: &str, limits: &super::super::GraphQlLimits) -> Result<(), ApiError> {
        let document = parse_document(query).expect("parses");
        let plan = plan(&document, None, &Map::new()).expect("plannable");
        within_limits(&document, &plan, limits)
    }

    #[test]
    fn floods_of_root_fields_and_deep_nesting_are_refused_up_front() {
        let limits = super::super::GraphQlLimits {
            max_root_fields: 3,
            max_depth: 4,
            max_query_bytes: 1 << 16,
        };
        let fields = |n: usize| {
            (0..n)
                .map(|i| format!("a{i}: __typename"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(limited(&format!("{{ {} }}", fields(3)), &limits).is_ok());
        let flood = limited(&format!("{{ {} }}", fields(4)), &limits).expect_err("flood");
        assert_eq!(flood.status(), StatusCode::BAD_REQUEST);
        // Depth 4 passes, 5 does not, also when the depth hides in fragments.
        let ok = "{ mlflowGetRun(input: {runId: \"r\"}) { run { info { runId } } } }";
        assert!(limited(ok, &limits).is_ok());
        let deep = "{ mlflowGetRun(input: {runId: \"r\"}) { run { data { metrics { key } } } } }";
        assert!(limited(deep, &limits).is_err());
        let hidden = "query { mlflowGetRun(input: {runId: \"r\"}) { ...R } }
            fragment R on MlflowGetRunResponse { run { ...D } }
            fragment D on MlflowRun { data { metrics { key } } }";
        assert!(limited(hidden, &limits).is_err());
        // A cycle of fragments ends at the limit instead of looping.
        let cycle = "query { mlflowGetRun(input: {runId: \"r\"}) { ...A } }
            fragment A on MlflowGetRunResponse { run { ...A } }";
        assert!(limited(cycle, &limits).is_err());
    }

    #[test]
    fn aliased_fields_are_planned_one_by_one_under_their_alias() {
        let planned = requirements(
            r#"{ mine: mlflowGetRun(input: {runId: "r1"}) { run { info { runId } } }
                 theirs: mlflowGetRun(input: {runUuid: "r2"}) { run { info { runId } } }
                 mlflowGetExperiment(input: {experimentId: "7"}) { experiment { name } } }"#,
            serde_json::json!({}),
        );
        assert_eq!(
            planned,
            vec![
                (key("mine"), runs(&["r1"])),
                (key("theirs"), runs(&["r2"])),
                (key("mlflowGetExperiment"), experiments(&["7"])),
            ]
        );
    }

    #[test]
    fn every_known_root_field_needs_what_its_handler_reads() {
        let planned = requirements(
            r#"{ a: mlflowListArtifacts(input: {runId: "r1", path: "x"}) { files { path } }
                 b: mlflowGetMetricHistoryBulkInterval(input: {runIds: ["r1", "r2"], metricKey: "m"}) { metrics { key } }
                 c: mlflowSearchRuns(input: {experimentIds: ["1", "2"]}) { runs { info { runId } } }
                 d: mlflowSearchModelVersions(input: {filter: "name='m'"}) { modelVersions { version } }
                 e: test(inputString: "hi") { output } }"#,
            serde_json::json!({}),
        );
        assert_eq!(
            planned,
            vec![
                (key("a"), runs(&["r1"])),
                (key("b"), runs(&["r1", "r2"])),
                (key("c"), narrowed(&["1", "2"])),
                (key("d"), Requirement::Nothing),
                (key("e"), Requirement::Nothing),
            ]
        );
        let mutation = requirements(
            r#"mutation { mlflowSearchDatasets(input: {experimentIds: ["3"]}) { datasetSummaries { name } }
                          mlflowSearchRuns(input: {experimentIds: "4"}) { runs { info { runId } } }
                          testMutation(inputString: "x") { output } }"#,
            serde_json::json!({}),
        );
        assert_eq!(
            mutation,
            vec![
                (key("mlflowSearchDatasets"), experiments(&["3"])),
                (key("mlflowSearchRuns"), narrowed(&["4"])),
                (key("testMutation"), Requirement::Nothing),
            ]
        );
    }

    #[test]
    fn variables_are_read_whole_or_inside_an_input_and_defaults_apply() {
        let planned = requirements(
            r#"query Q($whole: MlflowGetRunInput!, $id: String, $exp: String = "5", $ids: [String]) {
                 a: mlflowGetRun(input: $whole) { run { info { runId } } }
                 b: mlflowGetRun(input: {runId: $id}) { run { info { runId } } }
                 c: mlflowGetExperiment(input: {experimentId: $exp}) { experiment { name } }
                 d: mlflowSearchRuns(input: {experimentIds: $ids}) { runs { info { runId } } } }"#,
            serde_json::json!({"whole": {"runId": "r1"}, "id": "r2", "ids": "9"}),
        );
        assert_eq!(
            planned,
            vec![
                (key("a"), runs(&["r1"])),
                (key("b"), runs(&["r2"])),
                (key("c"), experiments(&["5"])),
                (key("d"), narrowed(&["9"])),
            ]
        );
    }

    #[test]
    fn a_variable_not_provided_or_not_defined_is_refused() {
        let planned = requirements(
            r#"query Q($id: String, $ids: [String]) {
                 a: mlflowGetRun(input: {runId: $id}) { run { info { runId } } }
                 b: mlflowGetRun(input: {runId: $undefined}) { run { info { runId } } }
                 c: mlflowSearchRuns(input: {experimentIds: ["1", $ids]}) { runs { info { runId } } }
                 d: mlflowGetRun(input: {runId: $id}) { run { info { runId } } } }"#,
            serde_json::json!({"id": null}),
        );
        assert_eq!(planned.len(), 4);
        assert!(planned.iter().all(|(_, r)| refused(r)), "{planned:?}");
    }

    #[test]
    fn missing_conflicting_or_malformed_ids_are_refused() {
        let planned = requirements(
            r#"{ a: mlflowGetRun { run { info { runId } } }
                 b: mlflowGetRun(input: {runId: "r1", runUuid: "r2"}) { run { info { runId } } }
                 c: mlflowGetRun(input: {runId: 7}) { run { info { runId } } }
                 d: mlflowSearchRuns(input: {experimentIds: []}) { runs { info { runId } } }
                 e: mlflowGetRun(input: {runId: "r1"}, input: {runId: "r2"}) { run { info { runId } } }
                 f: mlflowGetExperiment(input: {experimentId: ""}) { experiment { name } } }"#,
            serde_json::json!({}),
        );
        assert_eq!(planned.len(), 6);
        assert!(planned.iter().all(|(_, r)| refused(r)), "{planned:?}");
        // An empty runId falls through to runUuid, as MLflow's `run_id or run_uuid`.
        assert_eq!(
            requirements(
                r#"{ mlflowGetRun(input: {runId: "", runUuid: "r2"}) { run { info { runId } } } }"#,
                serde_json::json!({})
            ),
            vec![(key("mlflowGetRun"), runs(&["r2"]))]
        );
    }

    #[test]
    fn fragments_at_the_root_are_refused_and_unknown_fields_too() {
        let planned = requirements(
            r#"query { ...Root ... on Query { test(inputString: "x") { output } }
                       mlflowDeleteRun(input: {runId: "r1"}) { apiError { code } }
                       __typename }
               fragment Root on Query { mlflowGetRun(input: {runId: "r1"}) { run { info { runId } } } }"#,
            serde_json::json!({}),
        );
        assert_eq!(planned.len(), 4);
        assert_eq!(planned[0].0, None);
        assert!(refused(&planned[0].1));
        assert_eq!(planned[1].0, None);
        assert!(refused(&planned[1].1));
        assert_eq!(planned[2].0, key("mlflowDeleteRun"));
        assert!(refused(&planned[2].1));
        assert_eq!(planned[3], (key("__typename"), Requirement::Nothing));
    }

    #[test]
    fn introspection_is_allowed_on_the_query_root_only() {
        assert_eq!(
            requirements(
                "{ __schema { types { name } } t: __type(name: \"Query\") { name } __typename }",
                serde_json::json!({})
            ),
            vec![
                (key("__schema"), Requirement::Nothing),
                (key("t"), Requirement::Nothing),
                (key("__typename"), Requirement::Nothing),
            ]
        );
        let mutation = requirements(
            "mutation { __schema { types { name } } }",
            serde_json::json!({}),
        );
        assert!(refused(&mutation[0].1));
        // A query-only field under the mutation root is unknown there.
        let mutation = requirements(
            r#"mutation { mlflowGetRun(input: {runId: "r1"}) { run { info { runId } } } }"#,
            serde_json::json!({}),
        );
        assert!(refused(&mutation[0].1));
    }

    #[test]
    fn the_operation_is_chosen_as_graphql_core_chooses_it() {
        let query = r#"query A { test(inputString: "a") { output } }
                       mutation B { mlflowSearchRuns(input: {experimentIds: ["1"]}) { runs { info { runId } } } }"#;
        let document = parse_document(query).expect("parses");
        let none = Map::new();
        let b = plan(&document, Some("B"), &none).expect("B exists");
        assert_eq!(b.operation_index, 1);
        assert_eq!(b.selections[0].requirement, narrowed(&["1"]));
        let missing = plan(&document, None, &none).expect_err("ambiguous");
        assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
        let unknown = plan(&document, Some("C"), &none).expect_err("no such operation");
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
        let subscription = parse_document("subscription { test { output } }").expect("parses");
        assert_eq!(
            plan(&subscription, None, &none)
                .expect_err("no subscriptions")
                .status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn batched_and_malformed_bodies_are_refused() {
        for body in [
            r#"[{"query": "{ __typename }"}]"#,
            r#""{\"query\": \"{ __typename }\"}""#,
            r#"{"variables": {}}"#,
            r#"{"query": "{ __typename }", "variables": [1]}"#,
            r#"{"query": "{ __typename }", "operationName": 3}"#,
            "",
            "not json",
        ] {
            let error = parse_envelope(body.as_bytes()).expect_err(body);
            assert_eq!(error.status(), StatusCode::BAD_REQUEST, "{body}");
        }
        let envelope = parse_envelope(
            br#"{"query": "{ __typename }", "variables": null, "operationName": "Q"}"#,
        )
        .expect("valid");
        assert_eq!(envelope.query, "{ __typename }");
        assert!(envelope.variables.is_none());
        assert_eq!(envelope.operation_name.as_deref(), Some("Q"));
    }

    fn rewritten(query: &str, operation: Option<&str>, keep: &[bool]) -> Option<String> {
        let document = parse_document(query).expect("parses");
        let plan = plan(&document, operation, &Map::new()).expect("plannable");
        let fates: Vec<Fate> = keep
            .iter()
            .map(|ok| if *ok { Fate::Run } else { Fate::Cut })
            .collect();
        rewrite(&document, &plan, &fates)
            .expect("printable")
            .map(|(query, _)| query)
    }

    #[test]
    fn denied_fields_leave_the_query_with_their_fragments_and_variables() {
        let query = r#"query Q($mine: String!, $theirs: String!, $kept: Boolean = true) @component(name: "ui") {
              mine: mlflowGetRun(input: {runId: $mine}) { run { ...Info @include(if: $kept) } }
              theirs: mlflowGetRun(input: {runId: $theirs}) { run { ...Data } }
            }
            fragment Info on MlflowRunExtension { info { runId } }
            fragment Data on MlflowRunExtension { data { params { key value } } ...Info }
            mutation Other { testMutation(inputString: "x") { output } }"#;
        let printed = rewritten(query, Some("Q"), &[true, false]).expect("something left");
        assert_eq!(
            printed,
            "query Q($mine: String!, $kept: Boolean = true) @component(name: \"ui\") { \
             mine: mlflowGetRun(input: {runId: $mine}) { run { ...Info @include(if: $kept) } } }\n\
             fragment Info on MlflowRunExtension { info { runId } }\n"
        );
        assert_eq!(rewritten(query, Some("Q"), &[false, false]), None);
    }

    #[test]
    fn model_versions_always_ask_for_their_registered_model() {
        let printed = rewritten(
            r#"{ mlflowGetRun(input: {runId: "r"}) { run { modelVersions { version } ...Mv } }
                 mlflowSearchModelVersions(input: {}) { modelVersions { ... on MlflowModelVersion { source } } } }
               fragment Mv on MlflowRunExtension { mv: modelVersions { status } }"#,
            None,
            &[true, true],
        )
        .expect("kept");
        assert_eq!(
            printed.matches("mlguardRegisteredModelName: name").count(),
            3,
            "{printed}"
        );
    }

    #[test]
    fn printed_strings_cannot_break_out_of_their_literal() {
        // A newline plus `"""` would end a block string early: the library's own
        // printer would let MLflow read a second, unchecked field here.
        let nasty =
            "x\n\"\"\"\n}) { run { info { runId } } } b: mlflowGetRun(input: {runId: \"alice\"";
        let query = format!(
            "{{ a: mlflowGetRun(input: {{runId: {} }}) {{ run {{ info {{ runId }} }} }} }}",
            serde_json::to_string(&format!("{nasty}\u{1}\\é😀")).expect("json string")
        );
        let printed = rewritten(&query, None, &[true]).expect("kept");
        let reparsed = parse_document(&printed).expect("printed query parses");
        let reparsed_plan = plan(&reparsed, None, &Map::new()).expect("plannable");
        assert_eq!(reparsed_plan.selections.len(), 1, "{printed}");
        assert_eq!(
            reparsed_plan.selections[0].requirement,
            runs(&[&format!("{nasty}\u{1}\\é😀")])
        );
    }

    #[test]
    fn printing_is_stable_for_every_construct() {
        let query = r#"query Q($a: [Int!]! = [1, -2], $b: MlflowViewType = ACTIVE_ONLY, $f: Float = 1.5e3) @component(name: "c") {
              x: mlflowSearchRuns(input: {experimentIds: ["1"], runViewType: $b, maxResults: $f, orderBy: $a, filter: null, pageToken: "-3"}) @skip(if: false) {
                runs { ... @include(if: true) { info { runId } } ... on MlflowRunExtension { data { metrics { value } } } }
              }
              t: test(inputString: "tab\there") { output }
            }"#;
        let printed = rewritten(query, None, &[true, true]).expect("kept");
        let again = rewritten(&printed, None, &[true, true]).expect("kept");
        assert_eq!(printed, again);
        assert!(printed.contains("$a: [Int!]! = [1, -2]"), "{printed}");
        assert!(printed.contains("$f: Float = 1500.0"), "{printed}");
        assert!(printed.contains(r#""tab\u0009here""#), "{printed}");
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn unreadable_model_versions_are_removed_from_every_list() {
        let mut data = serde_json::json!({
            "a": {"run": {"modelVersions": [
                {"version": "1", "mlguardRegisteredModelName": "mine"},
                {"version": "2", "mlguardRegisteredModelName": "theirs"},
                {"version": "3", "mlguardRegisteredModelName": 5}
            ]}},
            "b": {"modelVersions": [
                {"name": "theirs", "mlguardRegisteredModelName": "theirs"},
                {"name": "mine", "mlguardRegisteredModelName": "mine"}
            ]},
            "c": {"runs": [{"info": {"runId": "r"}}]}
        });
        let mut found = BTreeSet::new();
        model_version_names(&data, &mut found);
        assert_eq!(found, names(&["mine", "theirs"]));
        drop_unreadable_model_versions(&mut data, &names(&["mine"]));
        assert_eq!(
            data,
            serde_json::json!({
                "a": {"run": {"modelVersions": [{"version": "1"}]}},
                "b": {"modelVersions": [{"name": "mine"}]},
                "c": {"runs": [{"info": {"runId": "r"}}]}
            })
        );
    }

    #[test]
    fn denied_keys_become_null_with_an_error_even_over_an_answer() {
        let mut answer = variables(serde_json::json!({
            "data": {"mine": {"run": {}}, "same": {"run": {"info": {"runId": "leak"}}}},
            "errors": ["Run with id=x not found"]
        }));
        merge_denials(
            &mut answer,
            &[
                Denial {
                    response_key: key("theirs"),
                },
                Denial {
                    response_key: key("same"),
                },
                Denial { response_key: None },
            ],
        )
        .expect("mergeable");
        assert_eq!(
            Value::Object(answer),
            serde_json::json!({
                "data": {"mine": {"run": {}}, "same": null, "theirs": null},
                "errors": [
                    "Run with id=x not found",
                    "Permission denied for field 'theirs'.",
                    "Permission denied for field 'same'.",
                    "Permission denied for a fragment at the root of the operation."
                ]
            })
        );
    }
}
