import Crypto
import Foundation
import SponaDomain
import SponaEventStore
import SponaRecords

/// Registers and changes institutions, and records trainings: each through its own stream.
public struct RegistryService: Sendable {
    let store: any EventStore
    let directory: InstitutionDirectory
    let geography: Geography

    public init(store: any EventStore, geography: Geography) {
        self.store = store
        self.directory = InstitutionDirectory(store: store)
        self.geography = geography
    }

    /// Carries out `command` on the institution `id`; answers the institution as it stands
    /// and its version. A retry with the same idempotency key writes nothing.
    @discardableResult
    public func handle(
        _ command: InstitutionCommand,
        on id: InstitutionID,
        actor: Actor,
        requestID: String,
        idempotencyKey: String?
    ) async throws -> (institution: Institution, version: Int64) {
        let stream = Streams.institution(id)
        let fingerprint = try RequestFingerprint.make(stream.rawValue, command)
        let legacy = { RequestFingerprint.legacy(id, command) }
        let scopedKey = idempotencyKey.map { "\(actor.id):\($0)" }
        if let scopedKey, let previous = try await store.previousAppend(idempotencyKey: scopedKey) {
            // A retried request: answer with the institution as it stands, write nothing.
            guard previous.stream == stream, RequestFingerprint.matches(stored: previous.requestHash, current: fingerprint, legacy: legacy),
                let current = try await directory.institution(id)
            else { throw ApplicationError.idempotencyKeyReused }
            return current
        }
        let current = try await directory.institution(id)
        let events = try InstitutionDecider.decide(command, on: current?.0, actor: actor, geography: geography)
        let metadata = try EventCoding.metadata(CommandMetadata(actor: actor, requestID: requestID))
        let data = try events.map {
            EventData(type: $0.typeName, schemaVersion: $0.schemaVersion, payload: try $0.encodePayload(with: EventCoding.encoder))
        }
        do {
            try await store.append(
                to: stream,
                expected: current.map { .exactly($0.version) } ?? .noStream,
                events: data,
                metadata: metadata,
                idempotencyKey: scopedKey,
                requestFingerprint: fingerprint
            )
        } catch EventStoreError.idempotencyKeyReused {
            throw ApplicationError.idempotencyKeyReused
        } catch EventStoreError.versionConflict(_, _, let actual) {
            throw ApplicationError.staleVersion(expected: current?.version ?? 0, actual: actual)
        }
        guard let updated = try await directory.institution(id) else { throw RegistryError.notRegistered(id) }
        return updated
    }

    /// The national Center for Protection of Victims of Trafficking: the one institution that
    /// exists from the start, because identification and coordination need it before anyone
    /// has registered anything.
    public static let center = InstitutionEvent.Details(
        id: .center,
        nameLatin: "Centar za zaštitu žrtava trgovine ljudima",
        nameCyrillic: "Центар за заштиту жртава трговине људима",
        sector: .socialProtection,
        municipality: MunicipalityCode(rawValue: "beograd"),
        isCenter: true
    )

    /// Registers the Center unless it is registered already; true when it was registered now.
    @discardableResult
    public func ensureCenter(requestID: String) async throws -> Bool {
        if try await directory.institution(.center) != nil { return false }
        let actor = Actor(id: "spona-bootstrap", institution: .center, role: .admin)
        do {
            try await handle(.register(Self.center), on: .center, actor: actor, requestID: requestID, idempotencyKey: nil)
        } catch ApplicationError.staleVersion {
            return false  // another process registered it at the same moment
        }
        return true
    }

    /// Registers the Center and every institution of `institutions` not registered yet, and
    /// records every training not recorded yet: what `spona reference load` and `spona demo`
    /// do first. Safe to run again. Answers how many were written now.
    @discardableResult
    public func load(
        institutions: [InstitutionEvent.Details],
        trainings: [TrainingHeld],
        actor: Actor,
        requestID: String
    ) async throws -> (institutions: Int, trainings: Int) {
        var registered = try await ensureCenter(requestID: requestID) ? 1 : 0
        var recorded = 0
        for details in institutions where try await directory.institution(details.id) == nil {
            try await handle(.register(details), on: details.id, actor: actor, requestID: requestID, idempotencyKey: nil)
            registered += 1
        }
        let caller = Caller(actor: actor, isCenter: true)
        for training in trainings where try await recordTraining(training, caller: caller, requestID: requestID) {
            recorded += 1
        }
        return (registered, recorded)
    }

    /// Records a training held. Its id names its stream; recording the same training twice
    /// writes it once. A different training under the same id (a reused idempotency key with
    /// another body) is refused: nobody is ever told that something was recorded that was not.
    @discardableResult
    public func recordTraining(_ training: TrainingHeld, caller: Caller, requestID: String) async throws -> Bool {
        try training.validate(actor: caller.actor, isCenter: caller.isCenter, geography: geography)
        let metadata = try EventCoding.metadata(CommandMetadata(actor: caller.actor, requestID: requestID))
        let event = EventData(
            type: TrainingHeld.typeName,
            schemaVersion: TrainingHeld.schemaVersion,
            payload: try EventCoding.encoder.encode(training)
        )
        do {
            try await store.append(to: Streams.training(training.id), expected: .noStream, events: [event], metadata: metadata)
            return true
        } catch EventStoreError.versionConflict {
            let stored = try await store.readStream(Streams.training(training.id)).first
            guard let stored, stored.type == TrainingHeld.typeName,
                (try? EventCoding.decode(TrainingHeld.self, stored, schemas: TrainingHeld.schemas)) == training
            else { throw ApplicationError.idempotencyKeyReused }
            return false
        }
    }
}
