"""The administrator's side: credential report, audit classification, organization fan-out."""
