//! Typed accessors on the generated models: read and write the JSON and constrained columns as the
//! values of [`crate::values`], so callers never handle raw JSON or magic integers.
//!
//! Each reads one row's value: a NULL is `Ok(None)`, and a value that is not what it should be
//! (text that is not JSON, JSON of another shape, an unknown skill type) is that row's `Err`,
//! beside the raw value the model still holds; never an error for the whole result set.

use sea_orm::ActiveValue::Set;

use crate::values::{
    ClassifiedCategories, ConsolidationState, FromJson, PreferenceVector, Reward, SkillType, StoredJson,
    TemporalMetadata, TriggerContext, ValueError,
};
use crate::{consolidation_state, context_preference_vectors, feedback_events, semantic_facts, skills, trajectories};

/// `stored` read as `T` by `read`; `None` when NULL.
fn typed<T>(
    stored: Option<&StoredJson>,
    what: &'static str,
    read: impl FnOnce(&serde_json::Value) -> Result<T, ValueError>,
) -> Result<Option<T>, ValueError> {
    stored.map(|s| s.value(what).and_then(read)).transpose()
}

impl semantic_facts::Model {
    /// The fact's temporal metadata, `None` when it has none yet.
    pub fn temporal(&self) -> Result<Option<TemporalMetadata>, ValueError> {
        typed(self.temporal_metadata.as_ref(), "temporal metadata", TemporalMetadata::from_json)
    }
}

impl semantic_facts::ActiveModel {
    /// Set the fact's temporal metadata (unknown keys it carries are written back as they were).
    pub fn set_temporal(&mut self, metadata: &TemporalMetadata) {
        self.temporal_metadata = Set(Some(metadata.to_json().into()));
    }
}

impl consolidation_state::Model {
    /// The consolidation state this row records, `None` when the row holds none.
    pub fn state(&self) -> Result<Option<ConsolidationState>, ValueError> {
        typed(self.state_json.as_ref(), "consolidation state", ConsolidationState::from_json)
    }
}

impl consolidation_state::ActiveModel {
    /// Set the recorded consolidation state.
    pub fn set_state(&mut self, state: &ConsolidationState) {
        self.state_json = Set(Some(state.to_json().into()));
    }
}

impl skills::Model {
    /// Whether the skill is a base template or one the user created, `None` when unset.
    pub fn kind(&self) -> Result<Option<SkillType>, ValueError> {
        self.skill_type.as_deref().map(str::parse).transpose()
    }

    /// When the skill applies, `None` when unset.
    pub fn trigger(&self) -> Result<Option<TriggerContext>, ValueError> {
        typed(self.trigger_context.as_ref(), "trigger context", TriggerContext::from_json)
    }

    /// The skill's 16 dimensions, `None` when unset.
    pub fn vector(&self) -> Result<Option<PreferenceVector>, ValueError> {
        typed(self.dimensions.as_ref(), "preference vector", PreferenceVector::from_json)
    }
}

impl skills::ActiveModel {
    /// Set the skill's type.
    pub fn set_kind(&mut self, kind: SkillType) {
        self.skill_type = Set(Some(kind.as_str().to_owned()));
    }

    /// Set when the skill applies.
    pub fn set_trigger(&mut self, trigger: &TriggerContext) {
        self.trigger_context = Set(Some(trigger.to_json().into()));
    }

    /// Set the skill's 16 dimensions.
    pub fn set_vector(&mut self, vector: &PreferenceVector) {
        self.dimensions = Set(Some(vector.to_json().into()));
    }
}

impl context_preference_vectors::Model {
    /// The user's preferences in this context bucket, `None` when unset.
    pub fn vector(&self) -> Result<Option<PreferenceVector>, ValueError> {
        typed(self.dimensions.as_ref(), "preference vector", PreferenceVector::from_json)
    }
}

impl context_preference_vectors::ActiveModel {
    /// Set the user's preferences in this context bucket.
    pub fn set_vector(&mut self, vector: &PreferenceVector) {
        self.dimensions = Set(Some(vector.to_json().into()));
    }
}

impl feedback_events::Model {
    /// The feedback's reward, `None` when unset.
    pub fn reward_value(&self) -> Result<Option<Reward>, ValueError> {
        self.reward.map(Reward::try_from).transpose()
    }

    /// The classifier's categories for the free text, if it ran.
    pub fn categories(&self) -> Result<Option<ClassifiedCategories>, ValueError> {
        typed(self.classified_categories.as_ref(), "classified categories", ClassifiedCategories::from_json)
    }
}

impl feedback_events::ActiveModel {
    /// Set the feedback's reward.
    pub fn set_reward(&mut self, reward: Reward) {
        self.reward = Set(Some(reward.into()));
    }

    /// Set (or clear) the classifier's categories.
    pub fn set_categories(&mut self, categories: Option<&ClassifiedCategories>) {
        self.classified_categories = Set(categories.map(|c| c.to_json().into()));
    }
}

impl trajectories::Model {
    /// The reward the user gave this turn, if any.
    pub fn reward_value(&self) -> Result<Option<Reward>, ValueError> {
        self.feedback_reward.map(Reward::try_from).transpose()
    }
}

impl trajectories::ActiveModel {
    /// Set (or clear) the reward the user gave this turn.
    pub fn set_reward(&mut self, reward: Option<Reward>) {
        self.feedback_reward = Set(reward.map(i64::from));
    }
}
