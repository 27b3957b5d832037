/// The OpenAPI 3.1 description of the API, served at `/openapi.yaml`. A test checks that it
/// names exactly the routes the router has, so it cannot drift from the server.
enum OpenAPIDocument {
    static let yaml = #"""
openapi: 3.1.0
info:
  title: Spona
  version: 0.3.0
  summary: Coordination server of the national referral network against trafficking in human beings.
  description: |
    Institutions report suspicions, refer people to each other, hold case conferences, decide,
    help and close cases. Every change is an event in an append-only store.

    Conventions:
    * JSON in and out (UTF-8); dates are ISO 8601 in UTC.
    * Every `/v1` route needs `Authorization: Bearer <token>` (issued with `spona tokens issue`).
    * Errors are `application/problem+json` (RFC 9457) with a stable `type`, a `title` and a
      `detail` written for the person at the client.
    * A case's `ETag` is its version. Every command to an existing case must send `If-Match`
      with the version it was based on (412 when the case has changed since, 428 without it).
    * Every POST needs an `Idempotency-Key` (1–200 visible ASCII characters; 400 without one,
      except an on-demand seal): a retry with the same key and body answers the first response
      and writes nothing; the same key with another body is 422.
    * Bounds on everything a client sends: text never holds NUL or another control character
      (tab, line feed and carriage return are allowed in bodies) and is at most 20,000
      characters (each field's own `maxLength` is tighter); numbers lie within ±1,000,000,000
      (each field's own `minimum`/`maximum` is tighter); arrays have at most 1,000 items. A value
      outside them is 422 naming the field or query parameter, and nothing is recorded.
    * Lists that can grow are paged: `?limit=` and `?after=` (the `next` of the previous page,
      also in the `Spona-Next-Page` header); a page without `next` is the last.
    * Any request that cannot be answered in time (by default 30 s, e.g. while the database
      restarts) gets 503 with `Retry-After`. A view whose projection stopped at an event it
      cannot apply answers 503 `urn:spona:problem:view-stopped` until an operator acts; one
      being rebuilt after an upgrade changed it answers 503 `urn:spona:problem:view-rebuilding`
      until it has caught up. While a restored or moved database's event order has not been
      carried over (`spona migrate`), writes answer 503 `urn:spona:problem:order-untrusted`; a
      case holding an event written by a newer Spona answers 503
      `urn:spona:problem:history-unreadable`.
    * A case exists only for its parties (the reporting institution, institutions referred to,
      institutions invited to a conference), the Center and auditors; to anyone else every case
      route answers 404.
    * Request bodies are limited to 1 MiB (413 beyond).
servers:
  - url: http://127.0.0.1:8080
security:
  - bearer: []
tags:
  - name: cases
    description: Reports and every step of a case after them.
  - name: referrals
  - name: conferences
  - name: work
    description: What an institution has to do, and what became of what it reported.
  - name: registry
    description: Institutions, trainings and reference data.
  - name: views
    description: Regional figures folded from the events.
  - name: audit
    description: For auditors. The whole history, streams at a moment, seals and their proofs, verification, the read trail. Every audit read is itself recorded.
  - name: operations
# The response sets many operations share (YAML anchors, expanded by any YAML parser).
x-response-sets:
  command: &command-responses
    "200": { $ref: "#/components/responses/CaseOK" }
    "400": { $ref: "#/components/responses/Malformed" }
    "401": { $ref: "#/components/responses/Unauthorized" }
    "403": { $ref: "#/components/responses/Forbidden" }
    "404": { $ref: "#/components/responses/NotFound" }
    "409": { $ref: "#/components/responses/Conflict" }
    "412": { $ref: "#/components/responses/PreconditionFailed" }
    "413": { $ref: "#/components/responses/TooLarge" }
    "415": { $ref: "#/components/responses/UnsupportedMediaType" }
    "422": { $ref: "#/components/responses/Invalid" }
    "428": { $ref: "#/components/responses/PreconditionRequired" }
    "503": { $ref: "#/components/responses/Unavailable" }
  create: &create-responses
    "201": { $ref: "#/components/responses/CaseCreated" }
    "200": { $ref: "#/components/responses/CaseReplayed" }
    "400": { $ref: "#/components/responses/Malformed" }
    "401": { $ref: "#/components/responses/Unauthorized" }
    "403": { $ref: "#/components/responses/Forbidden" }
    "404": { $ref: "#/components/responses/NotFound" }
    "409": { $ref: "#/components/responses/Conflict" }
    "412": { $ref: "#/components/responses/PreconditionFailed" }
    "413": { $ref: "#/components/responses/TooLarge" }
    "415": { $ref: "#/components/responses/UnsupportedMediaType" }
    "422": { $ref: "#/components/responses/Invalid" }
    "428": { $ref: "#/components/responses/PreconditionRequired" }
    "503": { $ref: "#/components/responses/Unavailable" }
  audit: &audit-errors
    "401": { $ref: "#/components/responses/Unauthorized" }
    "403": { $ref: "#/components/responses/Forbidden" }
    "422": { $ref: "#/components/responses/Invalid" }
    "503": { $ref: "#/components/responses/Unavailable" }
  institution: &institution-responses
    "200":
      description: The institution as it stands.
      headers:
        ETag: { $ref: "#/components/headers/ETag" }
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Institution" }
    "400": { $ref: "#/components/responses/Malformed" }
    "401": { $ref: "#/components/responses/Unauthorized" }
    "403": { $ref: "#/components/responses/Forbidden" }
    "404":
      description: No such institution.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    "409": { $ref: "#/components/responses/Conflict" }
    "422": { $ref: "#/components/responses/Invalid" }
    "503": { $ref: "#/components/responses/Unavailable" }

paths:
  /healthz:
    get:
      tags: [operations]
      summary: The process is alive.
      security: []
      responses:
        "200":
          description: Alive.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Status" }
  /readyz:
    get:
      tags: [operations]
      summary: The server can serve (its database answers).
      security: []
      responses:
        "200":
          description: Ready.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Status" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /metrics:
    get:
      tags: [operations]
      operationId: metrics
      summary: Prometheus metrics for operators.
      description: |
        HTTP requests by route template, method and status (hb_requests,
        http_server_request_duration_seconds), each projection's lag
        (spona_projection_events_behind, spona_projection_seconds_behind) and the last seal
        (spona_seal_tree_size, spona_seal_age_seconds). No label ever carries an id of a case,
        a person or a token.
      security: []
      responses:
        "200":
          description: The Prometheus text format.
          content:
            text/plain:
              schema: { type: string }
  /openapi.yaml:
    get:
      tags: [operations]
      summary: This document.
      security: []
      responses:
        "200":
          description: The OpenAPI document.
          content:
            application/yaml:
              schema: { type: string }

  /v1/cases:
    post:
      tags: [cases]
      operationId: fileReport
      summary: File a report of a suspicion (reporter, coordinator).
      description: |
        Opens a case. The server scores the observed indicators with the current catalogue and
        risk rule and records both versions with the result, so the score never changes later.
      parameters:
        - $ref: "#/components/parameters/IdempotencyKey"
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/FileReport" }
      responses:
        "201": { $ref: "#/components/responses/CaseCreated" }
        "200": { $ref: "#/components/responses/CaseReplayed" }
        "400": { $ref: "#/components/responses/Malformed" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "409": { $ref: "#/components/responses/Conflict" }
        "413": { $ref: "#/components/responses/TooLarge" }
        "415": { $ref: "#/components/responses/UnsupportedMediaType" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/cases/{case}:
    parameters:
      - $ref: "#/components/parameters/Case"
    get:
      tags: [cases]
      operationId: getCase
      summary: The case as it stands (its parties, the Center, auditors).
      responses:
        "200": { $ref: "#/components/responses/CaseOK" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/cases/{case}/personal-data:
    parameters:
      - $ref: "#/components/parameters/Case"
    get:
      tags: [cases]
      operationId: readPersonalData
      summary: The subject's personal data, for a party or the Center, with a reason (recorded).
      description: |
        The reason is stored in the case's read trail with who read it and when. Auditors see
        the case and its history but never the person (403). After an erasure the status is
        `erased` and no data is returned.
      parameters:
        - { name: reason, in: query, required: true, schema: { type: string, minLength: 1 }, description: "Why you read it" }
      responses:
        "200":
          description: The personal data, or why there is none.
          headers:
            ETag: { $ref: "#/components/headers/ETag" }
          content:
            application/json:
              schema:
                type: object
                required: [status]
                properties:
                  status: { type: string, enum: [present, none, erased] }
                  personalData: { $ref: "#/components/schemas/PersonalData" }
                  erasedAt: { $ref: "#/components/schemas/DateTime" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/cases/{case}/erase-personal-data:
    parameters:
      - $ref: "#/components/parameters/Case"
    post:
      tags: [cases]
      operationId: erasePersonalData
      summary: Crypto-shredding of the subject's personal data (admin), with a legal basis and a reference.
      description: |
        Destroys the subject's key and records PersonalDataErased. The case and its history stay
        whole and verifiable; the personal data can never be opened again, from any copy or
        backup of the database. `If-Match` is optional here (the admin does not see the case).
      parameters:
        - { name: If-Match, in: header, required: false, schema: { type: string } }
        - $ref: "#/components/parameters/IdempotencyKey"
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [legalBasis, reference]
              properties:
                legalBasis: { type: string, minLength: 1, examples: ["ZZPL čl. 30 (GDPR Art. 17)"] }
                reference: { type: string, minLength: 1, examples: ["Poverenik 072-16-1234/2026"] }
      responses:
        "200":
          description: Erased.
          headers:
            ETag: { $ref: "#/components/headers/ETag" }
          content:
            application/json:
              schema:
                type: object
                required: [case, personalData]
                properties:
                  case: { $ref: "#/components/schemas/UUID" }
                  personalData: { type: string, enum: [erased] }
                  erasedAt: { $ref: "#/components/schemas/DateTime" }
        "400": { $ref: "#/components/responses/Malformed" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "409": { $ref: "#/components/responses/Conflict" }
        "412": { $ref: "#/components/responses/PreconditionFailed" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/cases/{case}/events:
    parameters:
      - $ref: "#/components/parameters/Case"
    get:
      tags: [cases]
      operationId: getCaseHistory
      summary: The case's events, oldest first, each with who did it and its hash.
      responses:
        "200":
          description: The history.
          headers:
            ETag: { $ref: "#/components/headers/ETag" }
          content:
            application/json:
              schema:
                type: array
                items: { $ref: "#/components/schemas/RecordedEvent" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "404": { $ref: "#/components/responses/NotFound" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/cases/{case}/acknowledge:
    post:
      tags: [cases]
      operationId: acknowledgeReport
      summary: The Center acknowledges the report.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Empty" }
      responses: *command-responses
  /v1/cases/{case}/triage:
    post:
      tags: [cases]
      operationId: triageReport
      summary: The Center confirms the risk and names a case manager.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Triage" }
      responses: *command-responses
  /v1/cases/{case}/identification:
    post:
      tags: [cases]
      operationId: concludeIdentification
      summary: The Center concludes the formal identification.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Identification" }
      responses: *command-responses
  /v1/cases/{case}/assistance:
    post:
      tags: [cases]
      operationId: provideAssistance
      summary: A party records assistance given (the provider defaults to the caller's institution).
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Assistance" }
      responses: *command-responses
  /v1/cases/{case}/close:
    post:
      tags: [cases]
      operationId: closeCase
      summary: The Center closes the case (no referral may be open).
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Reason" }
      responses: *command-responses
  /v1/cases/{case}/reopen:
    post:
      tags: [cases]
      operationId: reopenCase
      summary: The Center reopens a closed case.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Reason" }
      responses: *command-responses

  /v1/cases/{case}/referrals:
    post:
      tags: [referrals]
      operationId: sendReferral
      summary: A party refers the case to another institution.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/SendReferral" }
      responses: *create-responses
  /v1/cases/{case}/referrals/{referral}/receive:
    post:
      tags: [referrals]
      operationId: receiveReferral
      summary: The receiving institution confirms it has the referral.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Referral" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Empty" }
      responses: *command-responses
  /v1/cases/{case}/referrals/{referral}/accept:
    post:
      tags: [referrals]
      operationId: acceptReferral
      summary: The receiving institution accepts the referral.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Referral" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Note" }
      responses: *command-responses
  /v1/cases/{case}/referrals/{referral}/decline:
    post:
      tags: [referrals]
      operationId: declineReferral
      summary: The receiving institution declines the referral, with a reason.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Referral" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Reason" }
      responses: *command-responses
  /v1/cases/{case}/referrals/{referral}/complete:
    post:
      tags: [referrals]
      operationId: completeReferral
      summary: The receiving institution reports the referral done, with its outcome.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Referral" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [outcome]
              properties:
                outcome: { type: string, minLength: 1 }
      responses: *command-responses
  /v1/cases/{case}/referrals/{referral}/fail:
    post:
      tags: [referrals]
      operationId: failReferral
      summary: The receiving institution could not carry out an accepted referral.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Referral" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Reason" }
      responses: *command-responses
  /v1/cases/{case}/referrals/{referral}/withdraw:
    post:
      tags: [referrals]
      operationId: withdrawReferral
      summary: The sender withdraws an open referral.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Referral" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/OptionalReason" }
      responses: *command-responses
  /v1/cases/{case}/referrals/{referral}/entered-in-error:
    post:
      tags: [referrals]
      operationId: markReferralEnteredInError
      summary: The sender marks a referral as entered in error (it stays in the history).
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Referral" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Reason" }
      responses: *command-responses

  /v1/cases/{case}/conferences:
    post:
      tags: [conferences]
      operationId: scheduleConference
      summary: The Center schedules a case conference and invites institutions (who become parties).
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/ScheduleConference" }
      responses: *create-responses
  /v1/cases/{case}/conferences/{conference}/held:
    post:
      tags: [conferences]
      operationId: recordConferenceHeld
      summary: The conference took place; who attended.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Conference" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [attended]
              properties:
                attended: { type: array, items: { $ref: "#/components/schemas/UUID" } }
      responses: *command-responses
  /v1/cases/{case}/conferences/{conference}/cancel:
    post:
      tags: [conferences]
      operationId: cancelConference
      summary: A scheduled conference is cancelled.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Conference" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Reason" }
      responses: *command-responses
  /v1/cases/{case}/conferences/{conference}/decisions:
    post:
      tags: [conferences]
      operationId: recordDecision
      summary: A decision of a held conference, with the institution responsible for it.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Conference" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/RecordDecision" }
      responses: *create-responses
  /v1/cases/{case}/decisions/{decision}/implemented:
    post:
      tags: [conferences]
      operationId: markDecisionImplemented
      summary: The institution responsible reports the decision carried out.
      parameters: [{ $ref: "#/components/parameters/Case" }, { $ref: "#/components/parameters/Decision" }, { $ref: "#/components/parameters/IfMatch" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Note" }
      responses: *command-responses

  /v1/inbox:
    get:
      tags: [work]
      operationId: getInbox
      summary: The caller's institution's open referrals and decisions, by due date (overdue first), paged.
      parameters:
        - { $ref: "#/components/parameters/PageLimit" }
        - { $ref: "#/components/parameters/PageAfter" }
      responses:
        "200":
          description: The inbox.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Inbox" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/reports/mine:
    get:
      tags: [work]
      operationId: getMyReports
      summary: What the caller's institution reported and what became of it, newest first, paged.
      parameters:
        - { $ref: "#/components/parameters/PageLimit" }
        - { $ref: "#/components/parameters/PageAfter" }
      responses:
        "200":
          description: The reports.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/MyReports" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "503": { $ref: "#/components/responses/Unavailable" }

  /v1/views/municipalities:
    get:
      tags: [views]
      operationId: viewMunicipalities
      summary: Municipality × month figures with district totals (and national ones for the Center).
      description: |
        Analysts see only the districts of their token and only months that have ended; each
        non-zero count perturbed by at most ±2 by its cell key (the same records always give the
        same figure), below the threshold (default 5) as "<5"; a district's total is the sum of
        what is shown of its municipalities. `asOf` is taken, for analysts, to the end of the last
        whole month before it. Every analyst's query is recorded (GET /v1/audit/access), and
        filtered or as-of ones are limited per hour (429). The Center sees exact, live figures.
        `Accept: text/csv` gives CSV (a header row, UTF-8).
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: district, in: query, schema: { $ref: "#/components/schemas/DistrictCode" } }
        - { name: municipality, in: query, description: "Only this municipality's rows and its district's totals, suppressed as in the whole district.", schema: { $ref: "#/components/schemas/MunicipalityCode" } }
        - { name: from, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$", examples: ["2026-01"] } }
        - { name: to, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$", examples: ["2026-12"] } }
        - { name: names, in: query, schema: { type: string, enum: [latin, cyrillic], default: latin } }
      responses:
        "200":
          description: The rows; `kind` is municipality, district (the total) or national.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/MunicipalityView" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "429": { $ref: "#/components/responses/TooMany" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/views/municipalities/{municipality}:
    get:
      tags: [views]
      operationId: viewMunicipality
      summary: One municipality by month, with its district's totals.
      description: |
        The same rows as `/v1/views/municipalities?municipality=…`: the cells are suppressed as
        in the whole district's table, so comparing the two reveals nothing.
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: municipality, in: path, required: true, schema: { $ref: "#/components/schemas/MunicipalityCode" } }
        - { name: from, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$", examples: ["2026-01"] } }
        - { name: to, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$", examples: ["2026-12"] } }
        - { name: names, in: query, schema: { type: string, enum: [latin, cyrillic], default: latin } }
      responses:
        "200":
          description: The municipality's rows and its district's.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/MunicipalityView" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "429": { $ref: "#/components/responses/TooMany" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/views/silent:
    get:
      tags: [views]
      operationId: viewSilentMunicipalities
      summary: Municipalities with no report in the last N months (the Center also sees when they last reported).
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: months, in: query, schema: { type: integer, minimum: 1, maximum: 120, default: 6 } }
        - { name: district, in: query, schema: { $ref: "#/components/schemas/DistrictCode" } }
        - { name: names, in: query, schema: { type: string, enum: [latin, cyrillic], default: latin } }
      responses:
        "200":
          description: The silent municipalities.
          content:
            application/json:
              schema:
                type: object
                required: [rows]
                properties:
                  suppressionThreshold: { type: integer }
                  rows:
                    type: array
                    items:
                      type: object
                      required: [kind, district, municipality]
                      properties:
                        kind: { type: string, enum: [silent] }
                        district: { $ref: "#/components/schemas/DistrictCode" }
                        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
                        name: { type: string }
                        lastReport: { type: string, description: "Month of the last report, or never (the Center only)" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "429": { $ref: "#/components/responses/TooMany" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/views/trainings:
    get:
      tags: [views]
      operationId: viewTrainingImpact
      summary: Per municipality reached by trainings, its trainings and participants and its reports in the 12 months before and after the first.
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: district, in: query, schema: { $ref: "#/components/schemas/DistrictCode" } }
        - { name: names, in: query, schema: { type: string, enum: [latin, cyrillic], default: latin } }
      responses:
        "200":
          description: The rows.
          content:
            application/json:
              schema:
                type: object
                required: [rows]
                properties:
                  suppressionThreshold: { type: integer }
                  rows:
                    type: array
                    items:
                      type: object
                      required: [kind, district, municipality]
                      properties:
                        kind: { type: string, enum: [municipality] }
                        district: { $ref: "#/components/schemas/DistrictCode" }
                        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
                        name: { type: string }
                        trainings: { type: integer }
                        participants: { type: integer }
                        firstTraining: { type: string }
                        reportsBefore: { $ref: "#/components/schemas/Count" }
                        reportsAfter: { $ref: "#/components/schemas/Count" }
                        reportsByTrained: { $ref: "#/components/schemas/Count" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "429": { $ref: "#/components/responses/TooMany" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/views/flows/sectors:
    get:
      tags: [views]
      operationId: viewSectorFlows
      summary: Referrals from sector to sector by month (the Center).
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: sector, in: query, description: "Only this sector (for flows: either end).", schema: { $ref: "#/components/schemas/Sector" } }
        - { name: from, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$" } }
        - { name: to, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$" } }
      responses:
        "200":
          description: The flows.
          content:
            application/json:
              schema:
                type: object
                required: [rows]
                properties:
                  suppressionThreshold: { type: integer }
                  rows:
                    type: array
                    items:
                      type: object
                      required: [kind, month, fromSector, toSector, referrals]
                      properties:
                        kind: { type: string, enum: [flow] }
                        month: { type: string }
                        fromSector: { $ref: "#/components/schemas/Sector" }
                        toSector: { $ref: "#/components/schemas/Sector" }
                        referrals: { type: integer }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/views/flows/places:
    get:
      tags: [views]
      operationId: viewPlaceFlows
      summary: Cases recruited in one place and exploited in another (municipality codes, or country:XX abroad), by month.
      description: Analysts see the flows with an end in their districts, in months that have ended, each count perturbed as in the municipality view ("<5" below the threshold).
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: district, in: query, schema: { $ref: "#/components/schemas/DistrictCode" } }
        - { name: from, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$" } }
        - { name: to, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$" } }
        - { name: names, in: query, schema: { type: string, enum: [latin, cyrillic], default: latin } }
      responses:
        "200":
          description: The flows.
          content:
            application/json:
              schema:
                type: object
                required: [rows]
                properties:
                  suppressionThreshold: { type: integer }
                  rows:
                    type: array
                    items:
                      type: object
                      required: [kind, month, from, to, cases]
                      properties:
                        kind: { type: string, enum: [flow] }
                        month: { type: string }
                        from: { type: string }
                        fromName: { type: string }
                        to: { type: string }
                        toName: { type: string }
                        cases: { $ref: "#/components/schemas/Count" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "429": { $ref: "#/components/responses/TooMany" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/views/cases:
    get:
      tags: [views]
      operationId: viewCaseList
      summary: The coordinators' case list (the Center), open cases first, most urgent first.
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: status, in: query, schema: { type: string, enum: [reported, acknowledged, triaged, closed] } }
        - { name: district, in: query, schema: { $ref: "#/components/schemas/DistrictCode" } }
        - { name: limit, in: query, description: "Cases per page (default 500).", schema: { type: integer, minimum: 1, maximum: 1000 } }
        - { name: after, in: query, description: "The `next` of the previous page.", schema: { type: string, maxLength: 100 } }
      responses:
        "200":
          description: A page of the cases; ids, places, dates and statuses only.
          headers:
            Spona-Next-Page: { description: "The cursor of the next page, when there is one.", schema: { type: string } }
          content:
            application/json:
              schema:
                type: object
                required: [rows]
                properties:
                  suppressionThreshold: { type: integer }
                  next: { type: string, description: "Present when there are more cases: pass it as ?after=." }
                  rows:
                    type: array
                    items:
                      type: object
                      required: [kind, caseId, municipality, filedAt, status]
                      properties:
                        kind: { type: string, enum: [case] }
                        caseId: { $ref: "#/components/schemas/UUID" }
                        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
                        district: { $ref: "#/components/schemas/DistrictCode" }
                        filedAt: { $ref: "#/components/schemas/DateTime" }
                        status: { type: string }
                        riskLevel: { $ref: "#/components/schemas/RiskLevel" }
                        urgency: { $ref: "#/components/schemas/Urgency" }
                        referralsSent: { type: integer }
                        identification: { $ref: "#/components/schemas/IdentificationOutcome" }
                        openItems: { type: integer }
                        overdueItems: { type: integer }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/views/sectors:
    get:
      tags: [views]
      operationId: viewSectors
      summary: Sector × month figures, national (the Center).
      parameters:
        - { name: asOf, in: query, description: "The view as it stood at this moment (ISO 8601 time, or a date: the end of that day, UTC): the projection replayed up to then. Suppression applies as always.", schema: { type: string } }
        - { name: sector, in: query, description: "Only this sector (for flows: either end).", schema: { $ref: "#/components/schemas/Sector" } }
        - { name: from, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$" } }
        - { name: to, in: query, schema: { type: string, pattern: "^[0-9]{4}-[0-9]{2}$" } }
      responses:
        "200":
          description: The rows.
          content:
            application/json:
              schema:
                type: object
                required: [rows]
                properties:
                  rows:
                    type: array
                    items:
                      type: object
                      required: [kind, month, sector]
                      properties:
                        kind: { type: string, enum: [sector] }
                        month: { type: string }
                        sector: { $ref: "#/components/schemas/Sector" }
                        name: { type: string }
                        reports: { $ref: "#/components/schemas/Count" }
                        referralsSent: { $ref: "#/components/schemas/Count" }
                        referralsReceived: { $ref: "#/components/schemas/Count" }
            text/csv:
              schema: { type: string }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/audit/events:
    get:
      tags: [audit]
      operationId: auditEvents
      summary: The whole history in the store's gap-safe order, as NDJSON, streamed.
      description: |
        One event a line: cursor, position, transactionId, stream, version, id, type,
        schemaVersion, recordedAt, recordedAtMicros, hash, previousHash (of the stream's event
        before it), metadata and payload — payload and metadata exactly the bytes the hash
        covers, so each line can be checked on its own. Constant memory for any size. Continue
        with `after` = the last line's cursor. The query is recorded in the read trail.
      parameters:
        - { name: after, in: query, description: "A cursor from an earlier line.", schema: { type: string, pattern: "^[0-9]+-[0-9]+$" } }
        - { name: limit, in: query, description: "At most this many lines (default: all).", schema: { type: integer, minimum: 1 } }
        - { name: category, in: query, description: "Stream category: the part of the stream id before its first '-' (case, institution, training, access, seals).", schema: { type: string } }
        - { name: type, in: query, description: "Event type; repeat for several.", schema: { type: array, items: { type: string } }, style: form, explode: true }
        - { name: from, in: query, description: "Recorded at or after.", schema: { $ref: "#/components/schemas/DateTime" } }
        - { name: to, in: query, description: "Recorded at or before.", schema: { $ref: "#/components/schemas/DateTime" } }
      responses:
        "200":
          description: NDJSON, one event a line.
          content:
            application/x-ndjson:
              schema: { type: string }
        <<: *audit-errors
  /v1/audit/streams/{stream}:
    get:
      tags: [audit]
      operationId: auditStream
      summary: A stream's events up to a moment, and the state they fold to.
      description: Reading a case's stream is recorded in that case's read trail.
      parameters:
        - { name: stream, in: path, required: true, schema: { type: string, examples: ["case-0b6d1c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e"] } }
        - { name: asOf, in: query, description: "A time (ISO 8601; a date alone means the end of that day, UTC) or a global position.", schema: { type: string } }
      responses:
        "200":
          description: The stream at that moment.
          content:
            application/json:
              schema:
                type: object
                required: [stream, version, state, events]
                properties:
                  stream: { type: string }
                  version: { type: integer }
                  state: { description: "The case or institution as it stood (null for other streams)." }
                  events: { type: array, items: { type: object } }
        "404": { $ref: "#/components/responses/NotFound" }
        <<: *audit-errors
  /v1/audit/seals:
    get:
      tags: [audit]
      operationId: listSeals
      summary: Every seal, oldest first, and the public key that signs them.
      responses:
        "200":
          description: The seals.
          content:
            application/json:
              schema:
                type: object
                required: [seals]
                properties:
                  publicKey: { type: string, description: "Base64 of the Ed25519 public key, when this server has a seal key." }
                  previousPublicKeys: { type: array, items: { type: string }, description: "Public keys of seal keys rotated away from." }
                  seals: { type: array, items: { $ref: "#/components/schemas/Seal" } }
        <<: *audit-errors
    post:
      tags: [audit]
      operationId: sealNow
      summary: Seal every event below the read horizon now (auditors, admins).
      responses:
        "201":
          description: The new seal.
          content: { application/json: { schema: { $ref: "#/components/schemas/Seal" } } }
        "200":
          description: Nothing new to seal.
          content: { application/json: { schema: { type: object, properties: { result: { type: string } } } } }
        <<: *audit-errors
  /v1/audit/seals/consistency:
    get:
      tags: [audit]
      operationId: sealConsistency
      summary: The proof that the tree of the first `first` events is a prefix of the tree of the first `second` (RFC 6962 / RFC 9162).
      parameters:
        - { name: first, in: query, required: true, schema: { type: integer, minimum: 1 } }
        - { name: second, in: query, required: true, schema: { type: integer, minimum: 1 } }
      responses:
        "200":
          description: Both tree heads and the consistency proof (hex hashes).
          content:
            application/json:
              schema:
                type: object
                required: [first, second, proof]
                properties:
                  first: { type: object, properties: { treeSize: { type: integer }, root: { type: string } } }
                  second: { type: object, properties: { treeSize: { type: integer }, root: { type: string } } }
                  proof: { type: array, items: { type: string } }
        "404": { $ref: "#/components/responses/NotFound" }
        <<: *audit-errors
  /v1/audit/verify:
    get:
      tags: [audit]
      operationId: verifyHistory
      summary: Recompute every hash chain and check every seal now.
      responses:
        "200":
          description: What was checked and what is wrong, if anything.
          content:
            application/json:
              schema:
                type: object
                required: [intact, events, streams, sealsChecked, signaturesChecked, findings]
                properties:
                  intact: { type: boolean }
                  events: { type: integer }
                  streams: { type: integer }
                  sealsChecked: { type: integer }
                  signaturesChecked: { type: boolean }
                  findings: { type: array, items: { type: string } }
        <<: *audit-errors
  /v1/audit/access:
    get:
      tags: [audit]
      operationId: auditAccess
      summary: The read trail — who read which case, when and why — by case or by actor.
      parameters:
        - { name: case, in: query, schema: { $ref: "#/components/schemas/UUID" } }
        - { name: actor, in: query, description: "A token's actor id.", schema: { type: string } }
        - { name: after, in: query, description: "With actor: the `next` of the previous page.", schema: { type: string } }
      responses:
        "200":
          description: The records, oldest first.
          content:
            application/json:
              schema:
                type: object
                required: [records]
                properties:
                  next: { type: string, description: "With actor: ask again with after=next for more." }
                  records:
                    type: array
                    items:
                      type: object
                      required: [at, read, actor, institution, role, requestID, position]
                      properties:
                        at: { $ref: "#/components/schemas/DateTime" }
                        case: { $ref: "#/components/schemas/UUID" }
                        read: { type: string, description: "case, history, personal_data, or audit_<query> for an auditor's query" }
                        reason: { type: string }
                        detail: { type: object, additionalProperties: { type: string } }
                        actor: { type: string }
                        institution: { $ref: "#/components/schemas/UUID" }
                        role: { type: string }
                        requestID: { type: string }
                        position: { type: integer }
        <<: *audit-errors
  /v1/institutions:
    get:
      tags: [registry]
      operationId: listInstitutions
      summary: Registered institutions, filtered by district, municipality or sector.
      parameters:
        - { name: district, in: query, schema: { type: string, examples: ["RS-21"] } }
        - { name: municipality, in: query, schema: { type: string, examples: ["prokuplje"] } }
        - { name: sector, in: query, schema: { $ref: "#/components/schemas/Sector" } }
        - { name: limit, in: query, description: "Institutions per page (default and most 1000).", schema: { type: integer, minimum: 1, maximum: 1000 } }
        - { name: after, in: query, description: "The `Spona-Next-Page` of the previous page (the id of its last institution).", schema: { type: string, format: uuid } }
      responses:
        "200":
          description: >-
            A page of the institutions, by Latin name then id. When more follow, the
            `Spona-Next-Page` header gives the `after` of the next page and `Link` its address
            (rel="next"); a page without them is the last.
          headers:
            Spona-Next-Page: { description: "The `after` of the next page, when there is one.", schema: { type: string, format: uuid } }
            Link: { description: "The next page's address, rel=\"next\" (RFC 8288).", schema: { type: string } }
          content:
            application/json:
              schema: { type: array, items: { $ref: "#/components/schemas/Institution" } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
    post:
      tags: [registry]
      operationId: registerInstitution
      summary: Register an institution (admin). Without a municipality it is national.
      parameters: [{ $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/InstitutionBody" }
      responses:
        "201":
          description: Registered.
          headers:
            Location: { $ref: "#/components/headers/Location" }
            ETag: { $ref: "#/components/headers/ETag" }
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Institution" }
        "400": { $ref: "#/components/responses/Malformed" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "409": { $ref: "#/components/responses/Conflict" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/institutions/{institution}:
    put:
      tags: [registry]
      operationId: updateInstitution
      summary: Change an institution's names, sector or municipality (admin).
      parameters: [{ $ref: "#/components/parameters/Institution" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/InstitutionBody" }
      responses: *institution-responses
  /v1/institutions/{institution}/deactivate:
    post:
      tags: [registry]
      operationId: deactivateInstitution
      summary: Deactivate an institution (admin); nothing can be referred to it any more.
      parameters: [{ $ref: "#/components/parameters/Institution" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Reason" }
      responses: *institution-responses
  /v1/institutions/{institution}/reactivate:
    post:
      tags: [registry]
      operationId: reactivateInstitution
      summary: Reactivate an institution (admin).
      parameters: [{ $ref: "#/components/parameters/Institution" }, { $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody: { $ref: "#/components/requestBodies/Empty" }
      responses: *institution-responses
  /v1/trainings:
    post:
      tags: [registry]
      operationId: recordTraining
      summary: Record a training held (admin, coordinator). Recording the same one again writes nothing (200).
      parameters: [{ $ref: "#/components/parameters/IdempotencyKey" }]
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/TrainingBody" }
      responses:
        "201":
          description: Recorded.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Training" }
        "200":
          description: Already recorded; nothing written.
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Training" }
        "400": { $ref: "#/components/responses/Malformed" }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "403": { $ref: "#/components/responses/Forbidden" }
        "422": { $ref: "#/components/responses/Invalid" }
        "503": { $ref: "#/components/responses/Unavailable" }
  /v1/municipalities:
    get:
      tags: [registry]
      operationId: listMunicipalities
      summary: Every city, municipality and city municipality of Serbia, with stable codes.
      responses:
        "200":
          description: The municipalities.
          content:
            application/json:
              schema: { type: array, items: { $ref: "#/components/schemas/Municipality" } }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /v1/districts:
    get:
      tags: [registry]
      operationId: listDistricts
      summary: The 24 administrative districts and the City of Belgrade.
      responses:
        "200":
          description: The districts.
          content:
            application/json:
              schema: { type: array, items: { $ref: "#/components/schemas/District" } }
        "401": { $ref: "#/components/responses/Unauthorized" }
  /v1/indicators:
    get:
      tags: [registry]
      operationId: listIndicators
      summary: The current indicator catalogue, or one sector's checklist.
      parameters:
        - { name: sector, in: query, schema: { $ref: "#/components/schemas/Sector" } }
      responses:
        "200":
          description: The catalogue.
          content:
            application/json:
              schema:
                type: object
                required: [version, ruleVersion, indicators]
                properties:
                  version: { type: string }
                  ruleVersion: { type: string }
                  indicators: { type: array, items: { $ref: "#/components/schemas/Indicator" } }
        "401": { $ref: "#/components/responses/Unauthorized" }
        "422": { $ref: "#/components/responses/Invalid" }

components:
  securitySchemes:
    bearer:
      type: http
      scheme: bearer
      description: A token from `spona tokens issue` (`spona_` and 43 characters).

  parameters:
    Case: { name: case, in: path, required: true, schema: { $ref: "#/components/schemas/UUID" } }
    Referral: { name: referral, in: path, required: true, schema: { $ref: "#/components/schemas/UUID" } }
    Conference: { name: conference, in: path, required: true, schema: { $ref: "#/components/schemas/UUID" } }
    Decision: { name: decision, in: path, required: true, schema: { $ref: "#/components/schemas/UUID" } }
    Institution: { name: institution, in: path, required: true, schema: { $ref: "#/components/schemas/UUID" } }
    IfMatch:
      name: If-Match
      in: header
      required: true
      description: The case's ETag the command is based on, e.g. `"7"`.
      schema: { type: string, examples: ['"7"'] }
    PageLimit:
      name: limit
      in: query
      description: Rows per page (default 500).
      schema: { type: integer, minimum: 1, maximum: 1000 }
    PageAfter:
      name: after
      in: query
      description: The `next` of the previous page.
      schema: { type: string, maxLength: 200 }
    IdempotencyKey:
      name: Idempotency-Key
      in: header
      required: true
      description: The client's key for this request (required on every POST); a retry with the same key writes nothing.
      schema: { type: string, minLength: 1, maxLength: 200 }

  headers:
    ETag:
      description: The version of the case (or institution), quoted.
      schema: { type: string, examples: ['"7"'] }
    Location:
      description: Where the created thing is.
      schema: { type: string }
    RetryAfter:
      description: Seconds to wait before trying again.
      schema: { type: integer }

  requestBodies:
    Empty:
      required: false
      content:
        application/json:
          schema: { type: object }
    Reason:
      required: true
      content:
        application/json:
          schema:
            type: object
            required: [reason]
            properties:
              reason: { type: string, minLength: 1 }
    OptionalReason:
      required: false
      content:
        application/json:
          schema:
            type: object
            properties:
              reason: { type: string }
    Note:
      required: false
      content:
        application/json:
          schema:
            type: object
            properties:
              note: { type: string }

  responses:
    CaseOK:
      description: The case as it stands.
      headers:
        ETag: { $ref: "#/components/headers/ETag" }
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Case" }
    CaseCreated:
      description: Created; `Location` names it; the body is the case as it stands.
      headers:
        ETag: { $ref: "#/components/headers/ETag" }
        Location: { $ref: "#/components/headers/Location" }
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Case" }
    CaseReplayed:
      description: A retry of a request already carried out (same Idempotency-Key); nothing was written.
      headers:
        ETag: { $ref: "#/components/headers/ETag" }
        Location: { $ref: "#/components/headers/Location" }
      content:
        application/json:
          schema: { $ref: "#/components/schemas/Case" }
    Malformed:
      description: The body is not JSON, or a header is malformed.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Unauthorized:
      description: No token, or one that is unknown, revoked or expired.
      headers:
        WWW-Authenticate: { schema: { type: string } }
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Forbidden:
      description: The caller's role or institution may not do this.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    NotFound:
      description: No such case, or one the caller may not see (the same answer).
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Conflict:
      description: Not possible in the case's current state; the detail says why.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    PreconditionFailed:
      description: The case changed since the version in If-Match.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    PreconditionRequired:
      description: If-Match is missing.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    TooLarge:
      description: The body is over 1 MiB.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    UnsupportedMediaType:
      description: The body is not application/json.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Invalid:
      description: The command is invalid (wrong type, unknown value, unknown municipality or institution…); the detail names the field.
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    Unavailable:
      description: The database does not answer; try again after Retry-After seconds.
      headers:
        Retry-After: { $ref: "#/components/headers/RetryAfter" }
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }
    TooMany:
      description: An analyst's filtered or as-of view queries of the last hour reached the limit; try again after Retry-After seconds.
      headers:
        Retry-After: { $ref: "#/components/headers/RetryAfter" }
      content: { application/problem+json: { schema: { $ref: "#/components/schemas/Problem" } } }

  schemas:
    Seal:
      type: object
      required: [treeSize, root, lastCursor, sealedAt, keyID, signature]
      properties:
        treeSize: { type: integer, description: "The seal covers the first treeSize events in the gap-safe order." }
        root: { type: string, description: "Hex of the Merkle root (RFC 6962) over their hashes." }
        lastCursor: { type: string }
        sealedAt: { $ref: "#/components/schemas/DateTime" }
        keyID: { type: string }
        signature: { type: string, description: "Base64 Ed25519 signature over 'spona-seal-v1' ‖ treeSize ‖ root ‖ last transaction id ‖ last position ‖ sealed-at microseconds (big-endian)." }
    MunicipalityView:
      type: object
      required: [rows]
      properties:
        suppressionThreshold: { type: integer }
        rows:
          type: array
          items:
            type: object
            required: [kind, month]
            properties:
              kind: { type: string, enum: [municipality, city, district, national], description: "city: a city with city municipalities, adding them up (and the city itself)" }
              month: { type: string }
              district: { $ref: "#/components/schemas/DistrictCode" }
              municipality: { $ref: "#/components/schemas/MunicipalityCode" }
              name: { type: string }
              reports: { $ref: "#/components/schemas/Count" }
              children: { $ref: "#/components/schemas/Count" }
              highRisk: { $ref: "#/components/schemas/Count" }
              referralsSent: { $ref: "#/components/schemas/Count" }
              identifiedVictims: { $ref: "#/components/schemas/Count" }
              reportsByTrained: { $ref: "#/components/schemas/Count" }
    Count:
      description: A count (for analysts perturbed, see the municipality view), or for analysts "<5" (a small one, hidden).
      oneOf:
        - { type: integer, minimum: 0 }
        - { type: string, pattern: "^<[0-9]+$", examples: ["<5"] }
    UUID: { type: string, format: uuid }
    DateTime: { type: string, format: date-time }
    Status:
      type: object
      required: [status]
      properties:
        status: { type: string, enum: [ok, ready, degraded], description: "degraded: a projection stopped at an event it cannot apply (see stopped) or is rebuilding after an upgrade (see rebuilding); the API serves, those views answer 503" }
        database: { type: string }
        projections:
          type: object
          additionalProperties:
            type: object
            properties:
              eventsBehind: { type: integer }
              secondsBehind: { type: number }
        stopped:
          type: array
          items:
            type: object
            required: [projection, eventID, stream, version, position, type, error, attempts]
            properties:
              projection: { type: string }
              eventID: { $ref: "#/components/schemas/UUID" }
              stream: { type: string }
              version: { type: integer }
              position: { type: integer }
              type: { type: string }
              error: { type: string }
              failedSince: { $ref: "#/components/schemas/DateTime" }
              attempts: { type: integer }
        rebuilding:
          type: array
          description: Projections folding the whole history again after an upgrade changed them; their views answer 503 view-rebuilding until done.
          items: { type: string }
        horizonHeldBy:
          type: object
          description: >-
            The oldest transaction of the PostgreSQL cluster holding the read horizon back, when
            it has for a while: nothing newer reaches views, projections and seals until it ends.
          required: [seconds, sameDatabase]
          properties:
            pid: { type: integer }
            database: { type: string }
            application: { type: string }
            state: { type: string }
            seconds: { type: number }
            sameDatabase: { type: boolean }
    Problem:
      type: object
      required: [type, title, status]
      properties:
        type: { type: string, description: "A stable kind, e.g. urn:spona:problem:version-conflict" }
        title: { type: string }
        status: { type: integer }
        detail: { type: string }
    Sector:
      type: string
      enum: [social_protection, police, prosecution, judiciary, education, health, ngo, red_cross, local_government, migration, labour, international, ombudsman, other]
    MunicipalityCode: { type: string, description: "A stable code from GET /v1/municipalities, e.g. prokuplje, beograd-vozdovac", examples: ["prokuplje"] }
    DistrictCode: { type: string, description: "ISO 3166-2:RS, e.g. RS-21 (Toplica); RS-00 is the City of Belgrade", examples: ["RS-21"] }
    CountryCode: { type: string, pattern: "^[A-Z]{2}$", description: ISO 3166-1 alpha-2 }
    AgeGroup: { type: string, enum: [child_0_13, child_14_17, adult_18_25, adult_26_plus, unknown] }
    Gender: { type: string, enum: [female, male, other, unknown] }
    ReportChannel: { type: string, enum: [app, phone, email, letter, in_person, hotline] }
    ExploitationForm: { type: string, enum: [sexual, labour, begging, criminality, forced_marriage, other] }
    Urgency: { type: string, enum: [routine, urgent, immediate] }
    RiskLevel: { type: string, enum: [low, medium, high] }
    IdentificationOutcome: { type: string, enum: [identified_victim, at_risk_prevention, not_a_victim] }
    AssistanceKind: { type: string, enum: [information, counselling, shelter, health, legal, financial, education, employment, reintegration, other] }
    DecisionType: { type: string, enum: [shelter_placement, testimony_by_video_link, prevention_programme, lead_institution, health_care, legal_aid, schooling, other] }
    IndicatorElement: { type: string, enum: [deceptive_recruitment, coercive_recruitment, recruitment_abusing_vulnerability, exploitative_conditions, coercion_at_destination, abuse_of_vulnerability_at_destination] }
    Location:
      type: object
      description: Where part of the story happened; exactly one of municipality and country.
      required: [role]
      properties:
        role: { type: string, enum: [residence, recruitment, transit, exploitation] }
        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
        country: { $ref: "#/components/schemas/CountryCode" }
    Subject:
      type: object
      description: The person the report is about, without personal data.
      required: [ageGroup, gender]
      properties:
        ageGroup: { $ref: "#/components/schemas/AgeGroup" }
        gender: { $ref: "#/components/schemas/Gender" }
        citizenship: { $ref: "#/components/schemas/CountryCode" }
        isMigrant: { type: boolean, default: false }
        vulnerableGroups:
          type: array
          maxItems: 15
          uniqueItems: true
          description: Codes only, never free text (free text here would be personal data in the clear, for ever).
          items: { type: string, enum: [roma, child_in_care, care_leaver, unaccompanied_minor, asylum_seeker, refugee, street_situation, disability, substance_use, domestic_violence, extreme_poverty, out_of_school, undocumented, lgbtiq, other] }
    FileReport:
      type: object
      required: [municipality, channel, subject]
      properties:
        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
        channel: { $ref: "#/components/schemas/ReportChannel" }
        subject: { $ref: "#/components/schemas/Subject" }
        locations: { type: array, maxItems: 20, description: "At most 10 of each role.", items: { $ref: "#/components/schemas/Location" } }
        exploitation: { type: array, items: { $ref: "#/components/schemas/ExploitationForm" } }
        indicators: { type: array, maxItems: 200, items: { type: string, examples: ["VR-05"] }, description: "Ids from GET /v1/indicators" }
        urgency: { $ref: "#/components/schemas/Urgency" }
        reporterTrained: { type: boolean, default: false }
        personalData: { $ref: "#/components/schemas/PersonalData" }
    PersonalData:
      type: object
      description: |
        Sealed (AES-GCM under a key of the subject's own) before anything else sees it; never in
        the case, the history, logs or views. Read it with a reason at /v1/cases/{case}/personal-data.
      properties:
        name: { type: string, maxLength: 500 }
        birthDate: { type: string, maxLength: 20, examples: ["2010-03-14"] }
        contacts: { type: array, maxItems: 20, items: { type: string, maxLength: 500 } }
        documents: { type: array, maxItems: 20, items: { type: string, maxLength: 500 } }
        narrative: { type: string }
    Triage:
      type: object
      required: [confirmedRisk, caseManager]
      properties:
        confirmedRisk: { $ref: "#/components/schemas/RiskLevel" }
        caseManager: { type: string, description: "An actor id, never a name" }
        note: { type: string }
    Identification:
      type: object
      required: [outcome]
      properties:
        outcome: { $ref: "#/components/schemas/IdentificationOutcome" }
        note: { type: string }
    Assistance:
      type: object
      required: [kind]
      properties:
        kind: { $ref: "#/components/schemas/AssistanceKind" }
        provider: { $ref: "#/components/schemas/UUID" }
        note: { type: string }
    SendReferral:
      type: object
      required: [to, reason, due]
      properties:
        to: { $ref: "#/components/schemas/UUID" }
        reason: { type: string, minLength: 1 }
        requestedServices: { type: array, items: { type: string } }
        urgency: { $ref: "#/components/schemas/Urgency" }
        due: { $ref: "#/components/schemas/DateTime" }
    ScheduleConference:
      type: object
      required: [at, invited]
      properties:
        at: { $ref: "#/components/schemas/DateTime" }
        invited: { type: array, items: { $ref: "#/components/schemas/UUID" } }
    RecordDecision:
      type: object
      required: [type, responsible]
      properties:
        type: { $ref: "#/components/schemas/DecisionType" }
        responsible: { $ref: "#/components/schemas/UUID" }
        due: { $ref: "#/components/schemas/DateTime" }
        note: { type: string }
    RiskAssessment:
      type: object
      required: [catalogueVersion, ruleVersion, level, elementsPresent, possibleVictim]
      properties:
        catalogueVersion: { type: string }
        ruleVersion: { type: string }
        level: { $ref: "#/components/schemas/RiskLevel" }
        elementsPresent: { type: array, items: { $ref: "#/components/schemas/IndicatorElement" } }
        possibleVictim: { type: boolean }
    Report:
      type: object
      required: [caseID, reportingInstitution, municipality, channel, subject, locations, exploitation, indicators, risk, urgency, reporterTrained]
      properties:
        caseID: { $ref: "#/components/schemas/UUID" }
        reportingInstitution: { $ref: "#/components/schemas/UUID" }
        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
        channel: { $ref: "#/components/schemas/ReportChannel" }
        subject:
          allOf:
            - $ref: "#/components/schemas/Subject"
            - type: object
              required: [id]
              properties:
                id: { $ref: "#/components/schemas/UUID" }
        locations: { type: array, items: { $ref: "#/components/schemas/Location" } }
        exploitation: { type: array, items: { $ref: "#/components/schemas/ExploitationForm" } }
        indicators: { type: array, items: { type: string } }
        risk: { $ref: "#/components/schemas/RiskAssessment" }
        urgency: { $ref: "#/components/schemas/Urgency" }
        reporterTrained: { type: boolean }
    Referral:
      type: object
      required: [id, from, to, reason, requestedServices, urgency, due, sentAt, status, statusChangedAt]
      properties:
        id: { $ref: "#/components/schemas/UUID" }
        from: { $ref: "#/components/schemas/UUID" }
        to: { $ref: "#/components/schemas/UUID" }
        reason: { type: string }
        requestedServices: { type: array, items: { type: string } }
        urgency: { $ref: "#/components/schemas/Urgency" }
        due: { $ref: "#/components/schemas/DateTime" }
        sentAt: { $ref: "#/components/schemas/DateTime" }
        status: { type: string, enum: [requested, received, accepted, declined, completed, failed, withdrawn, entered_in_error] }
        statusChangedAt: { $ref: "#/components/schemas/DateTime" }
        note: { type: string, description: "The reason of a decline, failure, withdrawal or correction; the outcome of a completion" }
    Conference:
      type: object
      required: [id, convenor, at, invited, attended, status, statusChangedAt]
      properties:
        id: { $ref: "#/components/schemas/UUID" }
        convenor: { $ref: "#/components/schemas/UUID" }
        at: { $ref: "#/components/schemas/DateTime" }
        invited: { type: array, items: { $ref: "#/components/schemas/UUID" } }
        attended: { type: array, items: { $ref: "#/components/schemas/UUID" } }
        status: { type: string, enum: [scheduled, held, cancelled] }
        statusChangedAt: { $ref: "#/components/schemas/DateTime" }
    Decision:
      type: object
      required: [id, conference, type, responsible]
      properties:
        id: { $ref: "#/components/schemas/UUID" }
        conference: { $ref: "#/components/schemas/UUID" }
        type: { $ref: "#/components/schemas/DecisionType" }
        responsible: { $ref: "#/components/schemas/UUID" }
        due: { $ref: "#/components/schemas/DateTime" }
        note: { type: string }
        implementedAt: { $ref: "#/components/schemas/DateTime" }
    Case:
      type: object
      required: [id, status, filedAt, report, referrals, conferences, decisions, assistance, parties, version, personalData]
      properties:
        id: { $ref: "#/components/schemas/UUID" }
        status: { type: string, enum: [reported, acknowledged, triaged, closed] }
        filedAt: { $ref: "#/components/schemas/DateTime" }
        report: { $ref: "#/components/schemas/Report" }
        acknowledgedAt: { $ref: "#/components/schemas/DateTime" }
        triage: { $ref: "#/components/schemas/Triage" }
        referrals: { type: array, items: { $ref: "#/components/schemas/Referral" } }
        conferences: { type: array, items: { $ref: "#/components/schemas/Conference" } }
        decisions: { type: array, items: { $ref: "#/components/schemas/Decision" } }
        identification: { $ref: "#/components/schemas/IdentificationOutcome" }
        assistance:
          type: array
          items:
            type: object
            required: [kind, provider, at]
            properties:
              kind: { $ref: "#/components/schemas/AssistanceKind" }
              provider: { $ref: "#/components/schemas/UUID" }
              at: { $ref: "#/components/schemas/DateTime" }
        closedAt: { $ref: "#/components/schemas/DateTime" }
        closeReason: { type: string }
        personalData: { type: string, enum: [present, none, erased], description: "Whether the report carries personal data" }
        personalDataErasedAt: { $ref: "#/components/schemas/DateTime" }
        parties: { type: array, items: { $ref: "#/components/schemas/UUID" } }
        version: { type: integer, description: "The same as the ETag" }
    RecordedEvent:
      type: object
      required: [version, type, schemaVersion, recordedAt, position, hash, payload, metadata]
      properties:
        version: { type: integer }
        type: { type: string, examples: [ReportFiled, ReferralSent] }
        schemaVersion: { type: integer }
        recordedAt: { $ref: "#/components/schemas/DateTime" }
        position: { type: integer }
        hash: { type: string, description: "Hex SHA-256 of the stream's hash chain at this event" }
        payload: { type: object }
        metadata:
          type: object
          required: [actor, institution, role, requestID, correlationID]
          properties:
            actor: { type: string }
            institution: { $ref: "#/components/schemas/UUID" }
            role: { type: string, enum: [reporter, coordinator, analyst, auditor, admin] }
            requestID: { type: string }
            correlationID: { type: string }
            causationID: { type: string }
    Inbox:
      type: object
      required: [institution, items]
      properties:
        next: { type: string, description: "Present when there are more items: pass it as ?after=." }
        institution: { $ref: "#/components/schemas/UUID" }
        items:
          type: array
          items:
            type: object
            required: [caseId, kind, itemId, detail, status, since, overdue]
            properties:
              caseId: { $ref: "#/components/schemas/UUID" }
              kind: { type: string, enum: [referral, decision] }
              itemId: { $ref: "#/components/schemas/UUID" }
              fromInstitution: { $ref: "#/components/schemas/UUID" }
              detail: { type: string }
              urgency: { $ref: "#/components/schemas/Urgency" }
              status: { type: string }
              due: { $ref: "#/components/schemas/DateTime" }
              since: { $ref: "#/components/schemas/DateTime" }
              overdue: { type: boolean }
    MyReports:
      type: object
      required: [institution, reports]
      properties:
        next: { type: string, description: "Present when there are more reports: pass it as ?after=." }
        institution: { $ref: "#/components/schemas/UUID" }
        reports:
          type: array
          items:
            type: object
            required: [caseId, municipality, filedAt, riskLevel, urgency, status, referralsSent, conferencesHeld, assistanceGiven]
            properties:
              caseId: { $ref: "#/components/schemas/UUID" }
              municipality: { $ref: "#/components/schemas/MunicipalityCode" }
              filedAt: { $ref: "#/components/schemas/DateTime" }
              riskLevel: { $ref: "#/components/schemas/RiskLevel" }
              urgency: { $ref: "#/components/schemas/Urgency" }
              status: { type: string }
              acknowledgedAt: { $ref: "#/components/schemas/DateTime" }
              triagedAt: { $ref: "#/components/schemas/DateTime" }
              referralsSent: { type: integer }
              conferencesHeld: { type: integer }
              identification: { $ref: "#/components/schemas/IdentificationOutcome" }
              assistanceGiven: { type: integer }
              closedAt: { $ref: "#/components/schemas/DateTime" }
    InstitutionBody:
      type: object
      required: [nameLatin, sector]
      properties:
        nameLatin: { type: string, minLength: 1 }
        nameCyrillic: { type: string }
        sector: { $ref: "#/components/schemas/Sector" }
        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
        isCenter: { type: boolean, default: false }
    Institution:
      type: object
      required: [id, nameLatin, sector, active, isCenter]
      properties:
        id: { $ref: "#/components/schemas/UUID" }
        nameLatin: { type: string }
        nameCyrillic: { type: string }
        sector: { $ref: "#/components/schemas/Sector" }
        municipality: { $ref: "#/components/schemas/MunicipalityCode" }
        district: { $ref: "#/components/schemas/DistrictCode" }
        active: { type: boolean }
        isCenter: { type: boolean }
    TrainingBody:
      type: object
      required: [date, host, participants, women, men]
      properties:
        date: { type: string, format: date, description: "A day that exists, from 2000-01-01 to 2100-12-31." }
        host: { $ref: "#/components/schemas/MunicipalityCode" }
        participants: { type: integer, minimum: 0, maximum: 10000 }
        women: { type: integer, minimum: 0, maximum: 10000, description: "women + men ≤ participants" }
        men: { type: integer, minimum: 0, maximum: 10000 }
        participantsBySector:
          type: object
          description: Their sum is at most participants.
          propertyNames: { $ref: "#/components/schemas/Sector" }
          additionalProperties: { type: integer, minimum: 0, maximum: 10000 }
        municipalities: { type: array, maxItems: 200, items: { $ref: "#/components/schemas/MunicipalityCode" } }
        institutions: { type: array, maxItems: 2000, items: { $ref: "#/components/schemas/UUID" } }
    Training:
      allOf:
        - $ref: "#/components/schemas/TrainingBody"
        - type: object
          required: [id]
          properties:
            id: { $ref: "#/components/schemas/UUID" }
    Municipality:
      type: object
      required: [code, district, kind, nameLatin, nameCyrillic]
      properties:
        code: { $ref: "#/components/schemas/MunicipalityCode" }
        district: { $ref: "#/components/schemas/DistrictCode" }
        kind: { type: string, enum: [city, municipality, city_municipality] }
        nameLatin: { type: string }
        nameCyrillic: { type: string }
        parent: { $ref: "#/components/schemas/MunicipalityCode", description: "The city a city municipality belongs to" }
    District:
      type: object
      required: [code, nameLatin, nameCyrillic]
      properties:
        code: { $ref: "#/components/schemas/DistrictCode" }
        nameLatin: { type: string }
        nameCyrillic: { type: string }
    Indicator:
      type: object
      required: [id, element, strength, text, sectors]
      properties:
        id: { type: string }
        element: { $ref: "#/components/schemas/IndicatorElement" }
        strength: { type: string, enum: [strong, medium, weak] }
        text: { type: string }
        sectors: { type: array, items: { $ref: "#/components/schemas/Sector" } }
"""#
}
