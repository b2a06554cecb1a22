"""Where the night's summary and the failure alerts go: a Slack channel, through Dagster's own
integration (dagster-slack's SlackResource, at the Web API address of the settings), and e-mail
through an SMTP relay (smtplib). Each only when its settings are given; each message is sent
once, never retried (the Slack client's own retry on a lost connection is turned off too).

User text (clip names, job ids, reasons) is escaped for Slack's mrkdwn and set in code spans, so
it can neither mention anyone, link anywhere nor format the message; in e-mail it goes into the
body only, and every header is checked to be one line.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate
from urllib.error import URLError

from dagster_slack import SlackResource
from pydantic import Field
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from proxx_dagster.settings import SLACK_API, ProxxAutomation

SEND_TIMEOUT_S = 30
_MRKDWN_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_BACKTICK_STAND_IN = "\u02cb"  # a code span cannot hold a backtick: MODIFIER LETTER GRAVE ACCENT


class ProxxSlack(SlackResource):
    """dagster-slack's resource at a chosen Web API address, with no retry."""

    base_url: str = Field(default=SLACK_API, description="Slack's Web API address.")

    def get_client(self) -> WebClient:
        return WebClient(
            self.token, base_url=self.base_url, timeout=SEND_TIMEOUT_S, retry_handlers=[]
        )


@dataclass(frozen=True)
class Message:
    subject: str  # one line, no user text
    text: str  # plain text: the e-mail's body
    mrkdwn: str  # the same for Slack, user text escaped (`shown`)


def shown(text: str) -> str:
    """User text as Slack shows it literally: &, < and > escaped (no mention, link or channel
    can be made of them) inside a code span (no bold, italics or strike)."""
    escaped = "".join(_MRKDWN_ESCAPES.get(ch, ch) for ch in one_line(text))
    return f"`{escaped.replace('`', _BACKTICK_STAND_IN)}`"


def one_line(text: str) -> str:
    """Text with every line break and control character made a space."""
    return "".join(" " if ch < " " or ch == "\x7f" else ch for ch in text)


def destinations(automation: ProxxAutomation) -> list[str]:
    """Where messages go under these settings, in words (empty: nowhere)."""
    found = []
    if automation.slack_token and automation.slack_channel:
        found.append(f"Slack {automation.slack_channel}")
    if automation.smtp_host:
        found.append("e-mail to " + ", ".join(automation.smtp_to))
    return found


def post_to_slack(automation: ProxxAutomation, message: Message) -> str:
    """Post once; what happened, in words."""
    token = automation.slack_bot_token()
    assert token and automation.slack_channel
    client = ProxxSlack(token=token, base_url=automation.slack_base_url)
    try:
        client.get_client().chat_postMessage(
            channel=automation.slack_channel,
            text=message.mrkdwn,
            mrkdwn=True,
            parse="none",
            link_names=False,
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as error:
        answer = error.response.get("error") or f"HTTP {error.response.status_code}"
        return f"Slack {automation.slack_channel}: not sent, Slack answered {answer}"
    except (URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        address = automation.slack_base_url
        return f"Slack {automation.slack_channel}: not sent, {address} not reached ({reason})"
    return f"Slack {automation.slack_channel}: sent"


def mail(automation: ProxxAutomation, message: Message, message_id: str) -> str:
    """Mail once through the relay; what happened, in words. `message_id` names the message
    (the same for a night's summary wherever it is made, so a copy is recognisable)."""
    assert automation.smtp_host and automation.smtp_from
    email = EmailMessage(policy=SMTP)  # raises on a header that is not one line
    email["Subject"] = one_line(message.subject)
    email["From"] = automation.smtp_from
    email["To"] = ", ".join(automation.smtp_to)
    email["Date"] = formatdate()
    email["Message-ID"] = f"<{message_id}@proxx>"
    email.set_content(message.text)
    relay = f"{automation.smtp_host}:{automation.smtp_port}"
    try:
        with smtplib.SMTP(
            automation.smtp_host, automation.smtp_port, timeout=SEND_TIMEOUT_S
        ) as smtp:
            refused = smtp.send_message(email)
    except smtplib.SMTPException as error:
        return f"e-mail: not sent, the relay {relay} refused it ({error})"
    except OSError as error:
        return f"e-mail: not sent, the relay {relay} not reached ({error.strerror or error})"
    if refused:
        return f"e-mail: sent, but the relay refused {', '.join(sorted(refused))}"
    return "e-mail to " + ", ".join(automation.smtp_to) + ": sent"


def send(automation: ProxxAutomation, message: Message, message_id: str) -> list[str]:
    """Send to every destination set, once each; what happened at each, in words."""
    outcomes = []
    if automation.slack_token and automation.slack_channel:
        outcomes.append(post_to_slack(automation, message))
    if automation.smtp_host:
        outcomes.append(mail(automation, message, message_id))
    return outcomes
