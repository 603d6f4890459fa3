"""SQLAlchemy models of every table (DESIGN §2)."""

from convoflow.store.models.accounts import ApiKey, PhoneNumber, User
from convoflow.store.models.base import Base
from convoflow.store.models.campaigns import (
    CampaignRecipient,
    CampaignSendSchedule,
    MarketingCampaign,
    MessageTemplate,
)
from convoflow.store.models.conversations import (
    Contact,
    ConversationStateRow,
    WorkflowEffect,
    WorkflowInstance,
)
from convoflow.store.models.counters import StepEdgeCount, StepVisitCount, TemplateDayCount
from convoflow.store.models.drafts import DraftSnapshot, SimulatorSession, TemplateDraft
from convoflow.store.models.handoffs import Handoff
from convoflow.store.models.llm import (
    KnowledgeBase,
    KnowledgeChunk,
    KnowledgeDocument,
    LlmCall,
    LlmPrice,
    LlmTool,
)
from convoflow.store.models.messages import OUTBOUND_STATUS_RANK, WhatsAppMessage
from convoflow.store.models.ratings import LegacyTemplateRating, TemplateRating
from convoflow.store.models.sign_in import SetupToken, SignInFailure, SignInSession
from convoflow.store.models.statuses import PendingStatus
from convoflow.store.models.templates import (
    TemplatePermission,
    TemplateSpec,
    UserType,
    WorkflowTemplate,
)

__all__ = [
    "OUTBOUND_STATUS_RANK",
    "ApiKey",
    "Base",
    "CampaignRecipient",
    "CampaignSendSchedule",
    "Contact",
    "ConversationStateRow",
    "DraftSnapshot",
    "Handoff",
    "KnowledgeBase",
    "KnowledgeChunk",
    "KnowledgeDocument",
    "LegacyTemplateRating",
    "LlmCall",
    "LlmPrice",
    "LlmTool",
    "MarketingCampaign",
    "MessageTemplate",
    "PendingStatus",
    "PhoneNumber",
    "SetupToken",
    "SignInFailure",
    "SignInSession",
    "SimulatorSession",
    "StepEdgeCount",
    "StepVisitCount",
    "TemplateDayCount",
    "TemplateDraft",
    "TemplatePermission",
    "TemplateRating",
    "TemplateSpec",
    "User",
    "UserType",
    "WhatsAppMessage",
    "WorkflowEffect",
    "WorkflowInstance",
    "WorkflowTemplate",
]
