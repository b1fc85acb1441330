"""Versioned contracts between the services: events, their envelope, and RPC messages."""

from contracts.alignment import (
    AlignmentDone,
    AlignmentOutcome,
    AlignmentProgress,
    AlignmentStarted,
    FileAlignmentQueued,
    FileOutcome,
)
from contracts.engines import (
    AccuracyFigure,
    EngineOffer,
    EnginesAnnounced,
    LanguageInfo,
    language_matches,
)
from contracts.envelope import Envelope, Event, utc_now
from contracts.files import FileExpired, FileRejection, FilesRejected, FilesStored, StoredFile
from contracts.ingest import PairIngestQueued
from contracts.jobs import (
    DICTIONARY_WORDS_OPTION,
    PRONUNCIATIONS_OPTION,
    TRANSCRIPT_FORMAT_OPTION,
    TRANSCRIPT_FORMATS,
    VALIDATE_OPTION,
    JobCancelled,
    JobSubmitted,
    SubmittedPair,
)
from contracts.notifications import JobFinished
from contracts.uploads import UploadAbandoned
from contracts.users import QuotaChanged, SessionsRevoked, UserDeleted, UserRegistered

ALL_EVENTS: tuple[type[Event], ...] = (
    JobSubmitted,
    JobCancelled,
    FilesStored,
    FilesRejected,
    FileExpired,
    PairIngestQueued,
    AlignmentStarted,
    FileAlignmentQueued,
    AlignmentProgress,
    AlignmentDone,
    UserRegistered,
    UserDeleted,
    QuotaChanged,
    SessionsRevoked,
    UploadAbandoned,
    EnginesAnnounced,
    JobFinished,
)

EVENTS_EXCHANGE = "alignment.events"
DEAD_LETTER_EXCHANGE = "alignment.dead-letter"

__all__ = [
    "ALL_EVENTS",
    "DEAD_LETTER_EXCHANGE",
    "DICTIONARY_WORDS_OPTION",
    "EVENTS_EXCHANGE",
    "PRONUNCIATIONS_OPTION",
    "TRANSCRIPT_FORMATS",
    "TRANSCRIPT_FORMAT_OPTION",
    "VALIDATE_OPTION",
    "AccuracyFigure",
    "AlignmentDone",
    "AlignmentOutcome",
    "AlignmentProgress",
    "AlignmentStarted",
    "EngineOffer",
    "EnginesAnnounced",
    "Envelope",
    "Event",
    "FileAlignmentQueued",
    "FileExpired",
    "FileOutcome",
    "FileRejection",
    "FilesRejected",
    "FilesStored",
    "JobCancelled",
    "JobFinished",
    "JobSubmitted",
    "LanguageInfo",
    "PairIngestQueued",
    "QuotaChanged",
    "SessionsRevoked",
    "StoredFile",
    "SubmittedPair",
    "UploadAbandoned",
    "UserDeleted",
    "UserRegistered",
    "language_matches",
    "utc_now",
]
