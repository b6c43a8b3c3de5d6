"""The examples of the documentation page of get_or_create_conversation(), unchanged.

Run against a collector:  AGENTSIGHT_API_KEY=ags_... python examples/reference_page.py
Only the names the page leaves to the reader (phone_number, caller_id,
user_id, session_id) are defined here; every call is copied as printed.
"""

from agentsight import conversation_tracker
from agentsight.helpers import generate_conversation_id

phone_number = "+1234567890"
caller_id = "caller-42"
user_id = "user-7"
session_id = "session-3"

# Basic Usage
# Simple conversation
conversation_tracker.get_or_create_conversation(
conversation_id="chat-123",
customer_id="user-456"
)

# With Full Context
conversation_tracker.get_or_create_conversation(
conversation_id="support-ticket-789",
customer_id="customer-abc",
customer_ip_address="203.0.113.45",
device="mobile",
source="whatsapp",
language="en-US",
name="Password Reset Support",
environment="production",
metadata={
"phone_number": "+1234567890",
"session_start": "2024-01-15T10:30:00Z",
"user_tier": "premium"
}
)

# Web Chat
conversation_tracker.get_or_create_conversation(
conversation_id="web-session-101",
customer_id="user-789",
device="desktop",
source="web",
language="en",
metadata={
"browser": "Chrome",
"page_url": "https://example.com/support"
}
)

# WhatsApp Bot
conversation_tracker.get_or_create_conversation(
conversation_id=phone_number, # Use phone number as ID
customer_id=phone_number,
device="mobile",
source="whatsapp",
language="en"
)

# Mobile App
conversation_tracker.get_or_create_conversation(
conversation_id=f"app-{user_id}-{session_id}",
customer_id=user_id,
device="mobile",
source="ios_app",
language="en",
metadata={
"app_version": "2.1.0",
"os_version": "iOS 17.2"
}
)

# Voice Agent
# Generate unique ID for each call
conversation_id = generate_conversation_id()
conversation_tracker.get_or_create_conversation(
conversation_id=conversation_id,
customer_id=caller_id,
source="voice_call",
language="en",
metadata={
"call_duration": 0,
"phone_number": "+1234567890"
}
)

# Generate Conversation ID
# Generate unique conversation ID
conversation_id = generate_conversation_id()
conversation_tracker.get_or_create_conversation(
conversation_id=conversation_id
)

# Store vs Create Immediately -- Store in Memory (Default)
# Stored in memory, sent with send_tracked_data()
conversation_tracker.get_or_create_conversation(
conversation_id="support-123",
name="Password Reset"
)
# ... track messages, actions, etc ...
# Send everything at once
conversation_tracker.send_tracked_data()

# Create Immediately
# Sends to API right away
conversation_tracker.initialize_conversation(
conversation_id="support-123",
name="Password Reset"
)

# Best Practices 1. Provide Rich Context
# ✅ Good - detailed context for analytics
conversation_tracker.get_or_create_conversation(
conversation_id="support-123",
customer_id="user-456",
customer_ip_address="203.0.113.45",
device="mobile",
source="whatsapp",
language="en",
metadata={
"user_tier": "premium",
"previous_tickets": 2,
"account_age_days": 365
}
)

# 2. Call Before Tracking
# ✅ Correct order
conversation_tracker.get_or_create_conversation(conversation_id="chat-123")
conversation_tracker.track_human_message("Hello")
conversation_tracker.track_agent_message("Hi!")
# ❌ Wrong - no conversation context
conversation_tracker.track_human_message("Hello")

print("reference examples tracked:", conversation_tracker.stats())
