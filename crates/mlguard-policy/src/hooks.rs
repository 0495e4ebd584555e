//! After-hooks, as far as the policy decides them: what each hook is about, read
//! from the request before it leaves, and where a creation answer names what was
//! created. Carrying a hook out (writing grants) is the gateway's.

use mlguard_domain::{ExperimentId, ModelName, OpaqueId, Resource, TrackingLookup};
use serde_json::Value;

use crate::request::{InputError, RequestView};
use crate::resolve::{Resolved, resolve};
use crate::{AfterHook, CreatedKind, Source, Target};

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
            AfterHook::None | AfterHook::RedactForNonAdmins(_) => false,
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
