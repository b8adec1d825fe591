"""The rules a hall lives by around a call: no-shows, recalls, re-queue, caps on transfers, phrasing.

Plain data read from the site file (``[calls]`` and the services' keys), so
the queue core decides with them and never reads a config itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: What call-next does when the counter's visitor was called but never started.
CalledAction = Literal["no_show", "refuse"]
#: What a recall beyond ``max_recalls`` does.
RecallAction = Literal["refuse", "no_show"]
#: Whether a transfer may enter a service that has reached its daily limit.
CappedTransfer = Literal["allow", "refuse"]


@dataclass(frozen=True)
class ServiceRules:
    """One service's rules; None: the hall's default (``CallRules``) applies."""

    #: Seconds after the last call, once ``max_recalls`` recalls were made, before the ticket is a no-show.
    no_show_after_seconds: int | None = None
    #: Recalls allowed after the first call.
    max_recalls: int | None = None
    transfer_into_capped: CappedTransfer | None = None
    #: The call's words per language for this service, over the counter kind's ({number}, {counter}).
    templates: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CallRules:
    """The hall's rules around a call (``[calls]`` in the site file), with per-service overrides."""

    on_call_next_while_called: CalledAction = "no_show"
    on_recall_beyond_max: RecallAction = "refuse"
    #: Where a late visitor goes back (过号重排): after this many waiting tickets; None: the end.
    requeue_position: int | None = 3
    no_show_after_seconds: int | None = None
    max_recalls: int | None = None
    transfer_into_capped: CappedTransfer = "allow"
    #: The extra no-show wait of a call after which the visitor said "on my way" (``[phone]``), once a call.
    on_my_way_seconds: int = 180
    #: The call's words per counter kind and language ("room" → {"zh": "请{number}号到{counter}就诊"}).
    templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    services: Mapping[str, ServiceRules] = field(default_factory=dict)

    def service(self, code: str) -> ServiceRules:
        """The rules of service ``code`` with every default filled in from the hall's."""
        own = self.services.get(code, ServiceRules())
        return ServiceRules(
            no_show_after_seconds=(
                own.no_show_after_seconds
                if own.no_show_after_seconds is not None
                else self.no_show_after_seconds
            ),
            max_recalls=own.max_recalls if own.max_recalls is not None else self.max_recalls,
            transfer_into_capped=own.transfer_into_capped or self.transfer_into_capped,
            templates=own.templates,
        )

    def call_templates(self, service: str, counter_kind: str) -> dict[str, str]:
        """The call's words per language: the service's, else the counter kind's; {}: the voice's own."""
        return {
            **self.templates.get(counter_kind, {}),
            **self.services.get(service, ServiceRules()).templates,
        }

    @property
    def watches_calls(self) -> bool:
        """Whether any service turns a call into a no-show by time (the hub runs the watch only then)."""
        return self.no_show_after_seconds is not None or any(
            s.no_show_after_seconds is not None for s in self.services.values()
        )
