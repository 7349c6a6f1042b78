//! Typed accessors on the generated models: read and write the JSON and constrained columns as the
//! values of [`crate::values`], so callers never handle raw JSON or magic integers.

use sea_orm::ActiveValue::Set;

use crate::values::{
    ClassifiedCategories, ConsolidationState, PreferenceVector, Reward, SkillType, TemporalMetadata, TriggerContext,
    ValueError,
};
use crate::{consolidation_state, context_preference_vectors, feedback_events, semantic_facts, skills, trajectories};

impl semantic_facts::Model {
    /// The fact's temporal metadata, `None` when it has none yet.
    pub fn temporal(&self) -> Result<Option<TemporalMetadata>, ValueError> {
        self.temporal_metadata.as_ref().map(TemporalMetadata::from_json).transpose()
    }
}

impl semantic_facts::ActiveModel {
    /// Set the fact's temporal metadata (unknown keys it carries are written back as they were).
    pub fn set_temporal(&mut self, metadata: &TemporalMetadata) {
        self.temporal_metadata = Set(Some(metadata.to_json()));
    }
}

impl consolidation_state::Model {
    /// The consolidation state this row records.
    pub fn state(&self) -> Result<ConsolidationState, ValueError> {
        ConsolidationState::from_json(&self.state_json)
    }
}

impl consolidation_state::ActiveModel {
    /// Set the recorded consolidation state.
    pub fn set_state(&mut self, state: &ConsolidationState) {
        self.state_json = Set(state.to_json());
    }
}

impl skills::Model {
    /// Whether the skill is a base template or one the user created.
    pub fn kind(&self) -> Result<SkillType, ValueError> {
        self.skill_type.parse()
    }

    /// When the skill applies.
    pub fn trigger(&self) -> Result<TriggerContext, ValueError> {
        TriggerContext::from_json(&self.trigger_context)
    }

    /// The skill's 16 dimensions.
    pub fn vector(&self) -> Result<PreferenceVector, ValueError> {
        PreferenceVector::from_json(&self.dimensions)
    }
}

impl skills::ActiveModel {
    /// Set the skill's type.
    pub fn set_kind(&mut self, kind: SkillType) {
        self.skill_type = Set(kind.as_str().to_owned());
    }

    /// Set when the skill applies.
    pub fn set_trigger(&mut self, trigger: &TriggerContext) {
        self.trigger_context = Set(trigger.to_json());
    }

    /// Set the skill's 16 dimensions.
    pub fn set_vector(&mut self, vector: &PreferenceVector) {
        self.dimensions = Set(vector.to_json());
    }
}

impl context_preference_vectors::Model {
    /// The user's preferences in this context bucket.
    pub fn vector(&self) -> Result<PreferenceVector, ValueError> {
        PreferenceVector::from_json(&self.dimensions)
    }
}

impl context_preference_vectors::ActiveModel {
    /// Set the user's preferences in this context bucket.
    pub fn set_vector(&mut self, vector: &PreferenceVector) {
        self.dimensions = Set(vector.to_json());
    }
}

impl feedback_events::Model {
    /// The feedback's reward.
    pub fn reward_value(&self) -> Result<Reward, ValueError> {
        Reward::try_from(self.reward)
    }

    /// The classifier's categories for the free text, if it ran.
    pub fn categories(&self) -> Result<Option<ClassifiedCategories>, ValueError> {
        self.classified_categories.as_ref().map(ClassifiedCategories::from_json).transpose()
    }
}

impl feedback_events::ActiveModel {
    /// Set the feedback's reward.
    pub fn set_reward(&mut self, reward: Reward) {
        self.reward = Set(reward.into());
    }

    /// Set (or clear) the classifier's categories.
    pub fn set_categories(&mut self, categories: Option<&ClassifiedCategories>) {
        self.classified_categories = Set(categories.map(ClassifiedCategories::to_json));
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
