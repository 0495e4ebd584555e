//! After-hooks, as far as the policy decides them: what each hook is about, read
//! from the request before it leaves, and where a creation answer names what was
//! created. Carrying a hook out (writing grants) is the gateway's.

use mlguard_domain::{ExperimentId, ModelName, OpaqueId, Resource, TrackingLookup};
use serde_json::Value;

use crate::request::{InputError, RequestView};
use crate::resolve::{Resolved, resolve};
use crate::{AfterHook, CreatedKind, Source, SubmittedJobs, Target};

/// A hook with everything it needs from the request already read.
#[derive(Debug)]
pub enum HookPlan {
    Nothing,
    /// Give the caller MANAGE on what was created: named by the request (scorers),
    /// or else by the answer (see [`CreatedKind::created`]).
    GrantCreator(CreatedKind, Option<Resource>),
    /// Drop the creators' grants on what is deleted: a registered model's name
    /// under both of its types, as either may hold rows on it.
    DeleteGrants(Vec<Resource>),
    Rename {
        from: ModelName,
        to: ModelName,
    },
    Redact(&'static [&'static str]),
    RecordJobOwner(SubmittedJobs),
    KeepOwnJobs,
    RedactGuardrailScorers,
}

/// The one resource a target names, resolved as the checks resolve it.
async fn named(
    target: Target,
    request: &RequestView<'_>,
    lookup: &dyn TrackingLookup,
) -> Result<Option<Resource>, InputError> {
    Ok(match resolve(target, request, lookup).await? {
        Resolved::Resources(resources) if resources.len() == 1 => resources.into_iter().next(),
        Resolved::Resources(_) | Resolved::Missing | Resolved::Nothing | Resolved::Absent => None,
    })
}

/// What a scorer registration names: its experiment and name, from the request.
const REGISTERED_SCORER: Target = Target::Scorer {
    experiment: Source::Param("experiment_id"),
    name: Source::Param("name"),
};

impl AfterHook {
    /// Whether the hook reads the JSON request body.
    pub fn reads_body(&self) -> bool {
        match self {
            AfterHook::DeleteGrants(target) => target.sources().iter().any(Source::reads_body),
            AfterHook::RenameRegisteredModel | AfterHook::FilterList(_) => true,
            AfterHook::GrantCreator(kind) => *kind == CreatedKind::Scorer,
            AfterHook::None
            | AfterHook::RedactForNonAdmins(_)
            | AfterHook::RecordJobOwner(_)
            | AfterHook::KeepOwnJobs
            | AfterHook::RedactGuardrailScorers => false,
        }
    }

    /// Reads from the request what the hook will need once MLflow has answered.
    pub async fn plan(
        self,
        request: &RequestView<'_>,
        lookup: &dyn TrackingLookup,
    ) -> Result<HookPlan, InputError> {
        Ok(match self {
            AfterHook::None | AfterHook::FilterList(_) => HookPlan::Nothing,
            AfterHook::RedactForNonAdmins(fields) => HookPlan::Redact(fields),
            AfterHook::RecordJobOwner(at) => HookPlan::RecordJobOwner(at),
            AfterHook::KeepOwnJobs => HookPlan::KeepOwnJobs,
            AfterHook::RedactGuardrailScorers => HookPlan::RedactGuardrailScorers,
            AfterHook::GrantCreator(CreatedKind::Scorer) => HookPlan::GrantCreator(
                CreatedKind::Scorer,
                named(REGISTERED_SCORER, request, lookup).await?,
            ),
            AfterHook::GrantCreator(kind) => HookPlan::GrantCreator(kind, None),
            AfterHook::DeleteGrants(target) => match named(target, request, lookup).await? {
                Some(Resource::RegisteredModel(name) | Resource::Prompt(name)) => {
                    HookPlan::DeleteGrants(vec![
                        Resource::RegisteredModel(name.clone()),
                        Resource::Prompt(name),
                    ])
                }
                Some(resource) => HookPlan::DeleteGrants(vec![resource]),
                None => HookPlan::Nothing,
            },
            AfterHook::RenameRegisteredModel => match (
                request.one(Source::Param("name"))?,
                request.one(Source::Param("new_name"))?,
            ) {
                (Some(from), Some(to)) => HookPlan::Rename {
                    from: ModelName::parse(&from)?,
                    to: ModelName::parse(&to)?,
                },
                _ => HookPlan::Nothing,
            },
        })
    }
}

impl CreatedKind {
    /// Where MLflow's creation answer holds the new id; `None` for what the request
    /// itself names.
    pub fn response_pointer(self) -> Option<&'static str> {
        match self {
            CreatedKind::Experiment => Some("/experiment_id"),
            CreatedKind::RegisteredModel => Some("/registered_model/name"),
            CreatedKind::GatewaySecret => Some("/secret/secret_id"),
            CreatedKind::GatewayEndpoint => Some("/endpoint/endpoint_id"),
            CreatedKind::GatewayModelDefinition => Some("/model_definition/model_definition_id"),
            CreatedKind::McpServer | CreatedKind::Skill => Some("/name"),
            CreatedKind::Scorer => None,
        }
    }

    /// What a creation made, from MLflow's answer.
    pub fn created(self, answer: &Value) -> Option<Resource> {
        let id = answer.pointer(self.response_pointer()?)?.as_str()?;
        match self {
            CreatedKind::Experiment => ExperimentId::parse(id).ok().map(Resource::Experiment),
            // MLflow keeps the request's tags: a prompt is one from its creation.
            CreatedKind::RegisteredModel => ModelName::parse(id).ok().map(|name| {
                crate::lists::model_kind_from_tags(answer.pointer("/registered_model/tags"))
                    .resource(name)
            }),
            CreatedKind::GatewaySecret => OpaqueId::parse(id).ok().map(Resource::GatewaySecret),
            CreatedKind::GatewayEndpoint => OpaqueId::parse(id).ok().map(Resource::GatewayEndpoint),
            CreatedKind::GatewayModelDefinition => OpaqueId::parse(id)
                .ok()
                .map(Resource::GatewayModelDefinition),
            // MLflow names a server `<namespace>/<slug>`; nothing else is one.
            CreatedKind::McpServer => (id.split('/').count() == 2)
                .then(|| OpaqueId::parse(id).ok().map(Resource::McpServer))
                .flatten(),
            CreatedKind::Skill => crate::lists::skill_of(answer),
            CreatedKind::Scorer => None,
        }
    }
}

impl SubmittedJobs {
    /// The job ids a submission answer names; one that is not an id MLflow could
    /// have minted is left out.
    pub fn job_ids(self, answer: &Value) -> Vec<OpaqueId> {
        let id = |value: Option<&Value>| value?.as_str().and_then(|id| OpaqueId::parse(id).ok());
        match self {
            SubmittedJobs::One(pointer) => id(answer.pointer(pointer)).into_iter().collect(),
            SubmittedJobs::Each(pointer) => answer
                .pointer(pointer)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|item| id(item.get("job_id")))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(found: Vec<OpaqueId>) -> Vec<String> {
        found.iter().map(|id| id.as_str().to_owned()).collect()
    }

    #[test]
    fn a_submission_answer_names_its_jobs() {
        let one = serde_json::json!({"job_id": "j-1", "run_id": "r"});
        assert_eq!(ids(SubmittedJobs::One("/job_id").job_ids(&one)), ["j-1"]);
        let nested = serde_json::json!({"job": {"job_id": "j-2"}});
        assert_eq!(
            ids(SubmittedJobs::One("/job/job_id").job_ids(&nested)),
            ["j-2"]
        );
        let batch = serde_json::json!({"jobs": [
            {"job_id": "j-3", "trace_ids": ["t"]},
            {"job_id": 4},
            {"job_id": ""},
            {"job_id": "j-5"},
        ]});
        assert_eq!(
            ids(SubmittedJobs::Each("/jobs").job_ids(&batch)),
            ["j-3", "j-5"]
        );
        // An answer without the id names nothing, and `*` is no id MLflow mints.
        assert!(
            SubmittedJobs::One("/job_id")
                .job_ids(&serde_json::json!({}))
                .is_empty()
        );
        assert!(
            SubmittedJobs::One("/job_id")
                .job_ids(&serde_json::json!({"job_id": "*"}))
                .is_empty()
        );
    }
}
