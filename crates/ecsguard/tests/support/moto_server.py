"""moto's server for ecsguard's live tests, with the one Security Hub call
that moto 5.2 lacks: BatchUpdateFindings (PATCH /findings/batchupdate), and
the limit moto does not enforce: at most 100 findings per BatchImportFindings.

It updates what ecsguard sends (Workflow.Status and Note) on the findings
moto already holds, and names the identifiers it does not know as
unprocessed, as Security Hub does. Everything else is moto, unchanged.
Usage: python3 moto_server.py [moto.server arguments]
"""

import datetime
import json
import sys

from moto.securityhub import urls
from moto.securityhub.exceptions import InvalidInputException
from moto.securityhub.responses import SecurityHubResponse


def batch_update_findings(self):
    body = json.loads(self.body or "{}")
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    processed, unprocessed = [], []
    for ident in body.get("FindingIdentifiers", []):
        found = next(
            (
                f
                for f in self.securityhub_backend.findings
                if f.id == ident.get("Id")
                and f.data.get("ProductArn") == ident.get("ProductArn")
            ),
            None,
        )
        if found is None:
            unprocessed.append(
                {
                    "FindingIdentifier": ident,
                    "ErrorCode": "FindingNotFound",
                    "ErrorMessage": "Finding Not Found",
                }
            )
            continue
        if "Workflow" in body:
            found.data["Workflow"] = {"Status": body["Workflow"]["Status"]}
        if "Note" in body:
            found.data["Note"] = dict(body["Note"], UpdatedAt=now)
        found.data["UpdatedAt"] = now
        processed.append(ident)
    return json.dumps(
        {"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}
    )


_batch_import_findings = SecurityHubResponse.batch_import_findings


def batch_import_findings(self):
    body = json.loads(self.body or "{}")
    if not 1 <= len(body.get("Findings", [])) <= 100:
        raise InvalidInputException(
            op="BatchImportFindings", msg="Findings must hold 1 to 100 items"
        )
    return _batch_import_findings(self)


SecurityHubResponse.batch_update_findings = batch_update_findings
SecurityHubResponse.batch_import_findings = batch_import_findings
urls.url_paths["{0}/findings/batchupdate$"] = SecurityHubResponse.dispatch

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
