import Crypto
import FaceRecognition
import Foundation

/// The Rekognition operations over ``FaceCollections``, a ``RekognitionFaceAnalyzer`` and a
/// ``RekognitionImageSource``. Each takes the decoded request shape and returns the response
/// shape; every failure is a ``RekognitionError``.
public struct RekognitionOperations: Sendable {
    public let collections: FaceCollections
    public let analyzer: RekognitionFaceAnalyzer
    public let images: any RekognitionImageSource
    /// Runs (and batches) the collection searches.
    public let searcher: CollectionSearcher
    /// The account id in ARNs.
    public let accountId: String

    /// The version reported as `FaceModelVersion`.
    public static let faceModelVersion = "facenet-vggface2-1.0"
    /// `Bytes` beyond this are refused (Rekognition's limit).
    public static let maxImageBytes = 5 * 1024 * 1024
    /// S3 objects beyond this are refused (Rekognition's limit).
    public static let maxS3ImageBytes = 15 * 1024 * 1024

    public init(collections: FaceCollections, analyzer: RekognitionFaceAnalyzer, images: any RekognitionImageSource,
                searcher: CollectionSearcher = CollectionSearcher(), accountId: String = "000000000000") {
        self.collections = collections
        self.analyzer = analyzer
        self.images = images
        self.searcher = searcher
        self.accountId = accountId
    }

    /// Operations that change nothing (allowed to read-only keys).
    public static let readOnlyOperations: Set<String> = [
        "DescribeCollection", "ListCollections", "ListFaces", "SearchFaces", "SearchFacesByImage", "CompareFaces",
        "DetectFaces", "ListUsers", "SearchUsers", "SearchUsersByImage",
    ]

    public static let supportedOperations: Set<String> = readOnlyOperations.union([
        "CreateCollection", "DeleteCollection", "IndexFaces", "DeleteFaces", "CreateUser", "DeleteUser",
        "AssociateFaces", "DisassociateFaces",
    ])

    /// Runs `operation` on a JSON body and returns the JSON answer.
    public func perform(_ operation: String, body: Data, caller: VerifiedCaller) async throws -> Data {
        guard Self.supportedOperations.contains(operation) else { throw RekognitionError.unknownOperation(operation) }
        if caller.readOnly, !Self.readOnlyOperations.contains(operation) {
            throw RekognitionError.accessDenied(
                "User: \(caller.accessKeyId) is not authorized to perform: rekognition:\(operation) (the key is read-only)")
        }
        let region = caller.region
        switch operation {
        case "CreateCollection": return try await encode(createCollection(decode(body), region: region))
        case "DescribeCollection": return try await encode(describeCollection(decode(body), region: region))
        case "ListCollections": return try await encode(listCollections(decode(body)))
        case "DeleteCollection": return try await encode(deleteCollection(decode(body)))
        case "IndexFaces": return try await encode(indexFaces(decode(body)))
        case "ListFaces": return try await encode(listFaces(decode(body)))
        case "DeleteFaces": return try await encode(deleteFaces(decode(body)))
        case "SearchFaces": return try await encode(searchFaces(decode(body)))
        case "SearchFacesByImage": return try await encode(searchFacesByImage(decode(body)))
        case "CompareFaces": return try await encode(compareFaces(decode(body)))
        case "DetectFaces": return try await encode(detectFaces(decode(body)))
        case "CreateUser": return try await encode(createUser(decode(body)))
        case "DeleteUser": return try await encode(deleteUser(decode(body)))
        case "ListUsers": return try await encode(listUsers(decode(body)))
        case "AssociateFaces": return try await encode(associateFaces(decode(body)))
        case "DisassociateFaces": return try await encode(disassociateFaces(decode(body)))
        case "SearchUsers": return try await encode(searchUsers(decode(body)))
        default: return try await encode(searchUsersByImage(decode(body)))
        }
    }

    // MARK: Collections

    func createCollection(_ request: CreateCollectionRequest, region: String) async throws -> CreateCollectionResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        try await collections.create(CollectionRecord(id: request.CollectionId, createdAt: Date(), faceModelVersion: Self.faceModelVersion))
        return CreateCollectionResponse(StatusCode: 200, CollectionArn: arn(request.CollectionId, region: region),
                                        FaceModelVersion: Self.faceModelVersion)
    }

    func describeCollection(_ request: CollectionRequest, region: String) async throws -> DescribeCollectionResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        let (record, faces, users) = try await collections.describe(request.CollectionId)
        return DescribeCollectionResponse(FaceCount: faces, FaceModelVersion: record.faceModelVersion,
                                          CollectionARN: arn(record.id, region: region),
                                          CreationTimestamp: record.createdAt.timeIntervalSince1970, UserCount: users)
    }

    func listCollections(_ request: ListCollectionsRequest) async throws -> ListCollectionsResponse {
        let limit = try RekognitionValidation.pageSize(request.MaxResults, default: 1000, range: 0...4096)
        let after = try request.NextToken.map(PageToken.decode)
        let page = await collections.ids(after: after, limit: limit)
        return ListCollectionsResponse(CollectionIds: page.ids.map(\.id),
                                       NextToken: page.more ? page.ids.last.map { PageToken.encode($0.id) } : nil,
                                       FaceModelVersions: page.ids.map(\.faceModelVersion))
    }

    func deleteCollection(_ request: CollectionRequest) async throws -> StatusCodeResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        try await collections.delete(request.CollectionId)
        return StatusCodeResponse(StatusCode: 200)
    }

    // MARK: Faces

    func indexFaces(_ request: IndexFacesRequest) async throws -> IndexFacesResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        if let external = request.ExternalImageId { try RekognitionValidation.externalImageId(external) }
        try RekognitionValidation.attributes(request.DetectionAttributes)
        let maxFaces = try RekognitionValidation.pageSize(request.MaxFaces, default: 100, range: 1...100, name: "MaxFaces")
        let filter = try QualityFilter(request.QualityFilter, default: .auto)
        _ = try await collections.describe(request.CollectionId)
        let data = try await imageBytes(request.Image)
        let imageId = Self.imageId(data)
        let faces = try await analyzer.analyze(data)
        var records: [FaceRecord] = [], unindexed: [UnindexedFace] = [], stored: [FaceRecordValue] = []
        for face in faces {
            var reasons = filter.reasons(face)
            if reasons.isEmpty, stored.count >= maxFaces { reasons = ["EXCEEDS_MAX_FACES"] }
            guard reasons.isEmpty else { unindexed.append(UnindexedFace(Reasons: reasons, FaceDetail: face.detail)); continue }
            let value = FaceRecordValue(faceId: UUID().uuidString.lowercased(), imageId: imageId,
                                        externalImageId: request.ExternalImageId, box: face.detail.BoundingBox,
                                        confidence: face.detail.Confidence, userId: nil, embedding: face.embedding)
            stored.append(value)
            records.append(FaceRecord(Face: Self.face(value), FaceDetail: face.detail))
        }
        if !stored.isEmpty { try await collections.insert(stored, collection: request.CollectionId) }
        return IndexFacesResponse(FaceRecords: records, FaceModelVersion: Self.faceModelVersion, UnindexedFaces: unindexed)
    }

    func listFaces(_ request: ListFacesRequest) async throws -> ListFacesResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        let limit = try RekognitionValidation.pageSize(request.MaxResults, default: 1000, range: 0...4096)
        if let user = request.UserId { try RekognitionValidation.userId(user) }
        for id in request.FaceIds ?? [] { try RekognitionValidation.faceId(id) }
        let after = try request.NextToken.map(PageToken.decode)
        let page = try await collections.faces(collection: request.CollectionId, after: after, limit: limit,
                                               userId: request.UserId, faceIds: request.FaceIds.map(Set.init))
        return ListFacesResponse(Faces: page.faces.map(Self.face),
                                 NextToken: page.more ? page.faces.last.map { PageToken.encode($0.faceId) } : nil,
                                 FaceModelVersion: Self.faceModelVersion)
    }

    func deleteFaces(_ request: DeleteFacesRequest) async throws -> DeleteFacesResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        guard (1...4096).contains(request.FaceIds.count) else { throw RekognitionError.invalidParameter("FaceIds must list 1 to 4096 face ids") }
        for id in request.FaceIds { try RekognitionValidation.faceId(id) }
        let result = try await collections.delete(faceIds: request.FaceIds, collection: request.CollectionId)
        return DeleteFacesResponse(DeletedFaces: result.deleted, UnsuccessfulFaceDeletions: result.refused.map {
            UnsuccessfulFaceDeletion(FaceId: $0.faceId, UserId: $0.userId, Reasons: [$0.reason])
        })
    }

    func searchFaces(_ request: SearchFacesRequest) async throws -> SearchFacesResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        try RekognitionValidation.faceId(request.FaceId)
        let maxFaces = try RekognitionValidation.pageSize(request.MaxFaces, default: 4096, range: 1...4096, name: "MaxFaces")
        let threshold = try RekognitionValidation.percent(request.FaceMatchThreshold, default: 80, name: "FaceMatchThreshold")
        guard let face = try await collections.face(request.FaceId, collection: request.CollectionId) else {
            throw RekognitionError.invalidParameter("Face \(request.FaceId) does not exist in collection \(request.CollectionId).")
        }
        // The searched face itself is not a match of itself.
        let matches = try await search(face.embedding, collection: request.CollectionId, maxFaces: maxFaces + 1, threshold: threshold)
            .filter { $0.Face.FaceId != face.faceId }.prefix(maxFaces)
        return SearchFacesResponse(SearchedFaceId: face.faceId, FaceMatches: Array(matches), FaceModelVersion: Self.faceModelVersion)
    }

    func searchFacesByImage(_ request: SearchFacesByImageRequest) async throws -> SearchFacesByImageResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        let maxFaces = try RekognitionValidation.pageSize(request.MaxFaces, default: 4096, range: 1...4096, name: "MaxFaces")
        let threshold = try RekognitionValidation.percent(request.FaceMatchThreshold, default: 80, name: "FaceMatchThreshold")
        let filter = try QualityFilter(request.QualityFilter, default: .none)
        _ = try await collections.describe(request.CollectionId)
        let face = try await largestFace(request.Image, filter: filter)
        let matches = try await search(face.embedding, collection: request.CollectionId, maxFaces: maxFaces, threshold: threshold)
        return SearchFacesByImageResponse(SearchedFaceBoundingBox: face.detail.BoundingBox,
                                          SearchedFaceConfidence: face.detail.Confidence, FaceMatches: matches,
                                          FaceModelVersion: Self.faceModelVersion)
    }

    // MARK: Images

    func compareFaces(_ request: CompareFacesRequest) async throws -> CompareFacesResponse {
        let threshold = try RekognitionValidation.percent(request.SimilarityThreshold, default: 80, name: "SimilarityThreshold")
        let filter = try QualityFilter(request.QualityFilter, default: .none)
        let source = try await largestFace(request.SourceImage, filter: filter)
        let targets = try await analyzer.analyze(try await imageBytes(request.TargetImage)).filter { filter.reasons($0).isEmpty }
        var matches: [CompareFacesMatch] = [], unmatched: [ComparedFace] = []
        for target in targets {
            let similarity = SimilarityMapping.similarity(forDistance: FaceVerification.distance(source.embedding, target.embedding))
            let compared = ComparedFace(BoundingBox: target.detail.BoundingBox, Confidence: target.detail.Confidence,
                                        Landmarks: target.detail.Landmarks, Pose: target.detail.Pose, Quality: target.detail.Quality)
            if similarity >= threshold {
                matches.append(CompareFacesMatch(Similarity: similarity, Face: compared))
            } else {
                unmatched.append(compared)
            }
        }
        matches.sort { $0.Similarity > $1.Similarity }
        return CompareFacesResponse(SourceImageFace: ComparedSourceImageFace(BoundingBox: source.detail.BoundingBox,
                                                                             Confidence: source.detail.Confidence),
                                    FaceMatches: matches, UnmatchedFaces: unmatched)
    }

    func detectFaces(_ request: DetectFacesRequest) async throws -> DetectFacesResponse {
        try RekognitionValidation.attributes(request.Attributes)
        let faces = try await analyzer.analyze(try await imageBytes(request.Image))
        return DetectFacesResponse(FaceDetails: faces.map(\.detail))
    }

    // MARK: Users

    func createUser(_ request: UserRequest) async throws -> EmptyResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        try RekognitionValidation.userId(request.UserId)
        try await collections.createUser(UserRecord(userId: request.UserId, clientRequestToken: request.ClientRequestToken),
                                         collection: request.CollectionId)
        return EmptyResponse()
    }

    func deleteUser(_ request: UserRequest) async throws -> EmptyResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        try RekognitionValidation.userId(request.UserId)
        try await collections.deleteUser(request.UserId, collection: request.CollectionId)
        return EmptyResponse()
    }

    func listUsers(_ request: ListUsersRequest) async throws -> ListUsersResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        let limit = try RekognitionValidation.pageSize(request.MaxResults, default: 500, range: 1...500)
        let after = try request.NextToken.map(PageToken.decode)
        let page = try await collections.users(collection: request.CollectionId, after: after, limit: limit)
        return ListUsersResponse(Users: page.users.map { User(UserId: $0.0.userId, UserStatus: Self.userStatus(faces: $0.1)) },
                                 NextToken: page.more ? page.users.last.map { PageToken.encode($0.0.userId) } : nil)
    }

    /// Most faces one user may have (Rekognition's limit).
    public static let maxFacesPerUser = 100

    func associateFaces(_ request: UserFacesRequest) async throws -> AssociateFacesResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        try RekognitionValidation.userId(request.UserId)
        guard (1...100).contains(request.FaceIds.count) else { throw RekognitionError.invalidParameter("FaceIds must list 1 to 100 face ids") }
        for id in request.FaceIds { try RekognitionValidation.faceId(id) }
        let threshold = try RekognitionValidation.percent(request.UserMatchThreshold, default: 75, name: "UserMatchThreshold")
        guard try await collections.user(request.UserId, collection: request.CollectionId) != nil else {
            throw RekognitionError.resourceNotFound("User \(request.UserId) does not exist in collection \(request.CollectionId).")
        }
        let snapshot = try await collections.snapshot(request.CollectionId)
        let userFaces = snapshot.faces.filter { $0.userId == request.UserId }
        var associated: [String] = [], failed: [UnsuccessfulFaceAssociation] = []
        for id in request.FaceIds where !associated.contains(id) {
            guard let face = snapshot.faces.first(where: { $0.faceId == id }) else {
                failed.append(.init(FaceId: id, UserId: nil, Confidence: nil, Reasons: ["FACE_NOT_FOUND"])); continue
            }
            if face.userId == request.UserId { associated.append(id); continue }
            if let other = face.userId {
                failed.append(.init(FaceId: id, UserId: other, Confidence: nil, Reasons: ["ASSOCIATED_TO_A_DIFFERENT_USER"])); continue
            }
            // A face joins a user that has faces only if it looks like them.
            if let best = userFaces.map({ FaceVerification.distance($0.embedding, face.embedding) }).min() {
                let similarity = SimilarityMapping.similarity(forDistance: best)
                if similarity < threshold {
                    failed.append(.init(FaceId: id, UserId: request.UserId, Confidence: similarity, Reasons: ["LOW_MATCH_CONFIDENCE"]))
                    continue
                }
            }
            associated.append(id)
        }
        let newlyAssociated = associated.filter { id in !userFaces.contains { $0.faceId == id } }
        guard userFaces.count + newlyAssociated.count <= Self.maxFacesPerUser else {
            throw RekognitionError.serviceQuotaExceeded("A user may have at most \(Self.maxFacesPerUser) faces.")
        }
        try await collections.setUser(request.UserId, faceIds: newlyAssociated, collection: request.CollectionId)
        let total = try await collections.faceCount(userId: request.UserId, collection: request.CollectionId)
        return AssociateFacesResponse(AssociatedFaces: associated.map { FaceIdItem(FaceId: $0) }, UnsuccessfulFaceAssociations: failed,
                                      UserStatus: Self.userStatus(faces: total))
    }

    func disassociateFaces(_ request: UserFacesRequest) async throws -> DisassociateFacesResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        try RekognitionValidation.userId(request.UserId)
        guard (1...100).contains(request.FaceIds.count) else { throw RekognitionError.invalidParameter("FaceIds must list 1 to 100 face ids") }
        for id in request.FaceIds { try RekognitionValidation.faceId(id) }
        guard try await collections.user(request.UserId, collection: request.CollectionId) != nil else {
            throw RekognitionError.resourceNotFound("User \(request.UserId) does not exist in collection \(request.CollectionId).")
        }
        var done: [String] = [], failed: [UnsuccessfulFaceDisassociation] = []
        for id in request.FaceIds where !done.contains(id) {
            guard let face = try await collections.face(id, collection: request.CollectionId) else {
                failed.append(.init(FaceId: id, UserId: nil, Reasons: ["FACE_NOT_FOUND"])); continue
            }
            guard face.userId == request.UserId else {
                failed.append(.init(FaceId: id, UserId: face.userId, Reasons: ["ASSOCIATED_TO_A_DIFFERENT_USER"])); continue
            }
            done.append(id)
        }
        try await collections.setUser(nil, faceIds: done, collection: request.CollectionId)
        let total = try await collections.faceCount(userId: request.UserId, collection: request.CollectionId)
        return DisassociateFacesResponse(DisassociatedFaces: done.map { FaceIdItem(FaceId: $0) },
                                         UnsuccessfulFaceDisassociations: failed, UserStatus: Self.userStatus(faces: total))
    }

    func searchUsers(_ request: SearchUsersRequest) async throws -> SearchUsersResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        let threshold = try RekognitionValidation.percent(request.UserMatchThreshold, default: 80, name: "UserMatchThreshold")
        let maxUsers = try RekognitionValidation.pageSize(request.MaxUsers, default: 500, range: 1...500, name: "MaxUsers")
        let snapshot = try await collections.snapshot(request.CollectionId)
        let queries: [[Float]]
        switch (request.UserId, request.FaceId) {
        case (let user?, nil):
            try RekognitionValidation.userId(user)
            guard try await collections.user(user, collection: request.CollectionId) != nil else {
                throw RekognitionError.resourceNotFound("User \(user) does not exist in collection \(request.CollectionId).")
            }
            queries = snapshot.faces.filter { $0.userId == user }.map(\.embedding)
        case (nil, let faceId?):
            try RekognitionValidation.faceId(faceId)
            guard let face = snapshot.faces.first(where: { $0.faceId == faceId }) else {
                throw RekognitionError.invalidParameter("Face \(faceId) does not exist in collection \(request.CollectionId).")
            }
            queries = [face.embedding]
        default:
            throw RekognitionError.invalidParameter("Exactly one of UserId and FaceId must be given.")
        }
        var matches = Self.userMatches(queries, snapshot: snapshot, threshold: threshold)
        if let user = request.UserId { matches.removeAll { $0.User.UserId == user } }
        return SearchUsersResponse(UserMatches: Array(matches.prefix(maxUsers)), FaceModelVersion: Self.faceModelVersion,
                                   SearchedFace: request.FaceId.map { SearchedFace(FaceId: $0) },
                                   SearchedUser: request.UserId.map { SearchedUser(UserId: $0) })
    }

    func searchUsersByImage(_ request: SearchUsersByImageRequest) async throws -> SearchUsersByImageResponse {
        try RekognitionValidation.collectionId(request.CollectionId)
        let threshold = try RekognitionValidation.percent(request.UserMatchThreshold, default: 80, name: "UserMatchThreshold")
        let maxUsers = try RekognitionValidation.pageSize(request.MaxUsers, default: 500, range: 1...500, name: "MaxUsers")
        let filter = try QualityFilter(request.QualityFilter, default: .none)
        let snapshot = try await collections.snapshot(request.CollectionId)
        let faces = try await analyzer.analyze(try await imageBytes(request.Image))
        guard let largest = faces.first else { throw Self.noFace }
        var unsearched = faces.dropFirst().map { UnsearchedFace(FaceDetails: $0.detail, Reasons: ["FACE_NOT_LARGEST"]) }
        let reasons = filter.reasons(largest)
        guard reasons.isEmpty else {
            unsearched.insert(UnsearchedFace(FaceDetails: largest.detail, Reasons: reasons), at: 0)
            return SearchUsersByImageResponse(UserMatches: [], FaceModelVersion: Self.faceModelVersion, SearchedFace: nil,
                                              UnsearchedFaces: unsearched)
        }
        let matches = Self.userMatches([largest.embedding], snapshot: snapshot, threshold: threshold)
        return SearchUsersByImageResponse(UserMatches: Array(matches.prefix(maxUsers)), FaceModelVersion: Self.faceModelVersion,
                                          SearchedFace: SearchedFaceDetails(FaceDetail: largest.detail), UnsearchedFaces: unsearched)
    }

    // MARK: Helpers

    /// Each user's best similarity to any query, at or above `threshold`, best first.
    static func userMatches(_ queries: [[Float]], snapshot: SearchSnapshot, threshold: Float) -> [UserMatch] {
        var best: [String: (similarity: Float, faces: Int)] = [:]
        for face in snapshot.faces {
            guard let user = face.userId else { continue }
            let distance = queries.map { FaceVerification.distance($0, face.embedding) }.min() ?? .infinity
            let similarity = SimilarityMapping.similarity(forDistance: distance)
            let previous = best[user]
            best[user] = (max(previous?.similarity ?? 0, similarity), (previous?.faces ?? 0) + 1)
        }
        return best.filter { $0.value.similarity >= threshold }
            .map { UserMatch(Similarity: $0.value.similarity, User: User(UserId: $0.key, UserStatus: userStatus(faces: $0.value.faces))) }
            .sorted { ($0.Similarity, $1.User.UserId) > ($1.Similarity, $0.User.UserId) }
    }

    func search(_ embedding: [Float], collection: String, maxFaces: Int, threshold: Float) async throws -> [FaceMatch] {
        let snapshot = try await collections.snapshot(collection)
        let hits = try await searcher.nearest(embedding, in: snapshot, limit: maxFaces,
                                              maxDistance: SimilarityMapping.distance(forSimilarity: threshold))
        return hits.map { FaceMatch(Similarity: SimilarityMapping.similarity(forDistance: $0.distance), Face: Self.face($0.face)) }
    }

    static let noFace = RekognitionError.invalidParameter("There are no faces in the image. Should be at least 1.")

    func largestFace(_ image: RekognitionImage, filter: QualityFilter) async throws -> AnalyzedFace {
        guard let face = try await analyzer.analyze(try await imageBytes(image)).first else { throw Self.noFace }
        let reasons = filter.reasons(face)
        guard reasons.isEmpty else {
            throw RekognitionError.invalidParameter("The largest face does not pass the quality filter: \(reasons.joined(separator: ", ")).")
        }
        return face
    }

    func imageBytes(_ image: RekognitionImage) async throws -> Data {
        switch (image.Bytes, image.S3Object) {
        case (let bytes?, nil):
            guard !bytes.isEmpty else { throw RekognitionError.invalidParameter("Image.Bytes is empty") }
            guard bytes.count <= Self.maxImageBytes else {
                throw RekognitionError.imageTooLarge("Image size is too large: \(bytes.count) bytes (at most \(Self.maxImageBytes) in Bytes).")
            }
            return bytes
        case (nil, let object?):
            guard let bucket = object.Bucket, !bucket.isEmpty, let name = object.Name, !name.isEmpty else {
                throw RekognitionError.invalidParameter("Image.S3Object needs Bucket and Name")
            }
            let data = try await images.object(bucket: bucket, name: name, version: object.Version)
            guard data.count <= Self.maxS3ImageBytes else {
                throw RekognitionError.imageTooLarge("Image size is too large: \(data.count) bytes (at most \(Self.maxS3ImageBytes) from S3).")
            }
            return data
        default:
            throw RekognitionError.invalidParameter("Image must have exactly one of Bytes and S3Object")
        }
    }

    func arn(_ collection: String, region: String) -> String {
        "aws:rekognition:\(region):\(accountId):collection/\(collection)"
    }

    /// The same image bytes always get the same ImageId (a name-based UUID of their SHA-256).
    static func imageId(_ data: Data) -> String {
        var bytes = Array(SHA256.hash(data: data).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let uuid = UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        return uuid.uuidString.lowercased()
    }

    static func face(_ value: FaceRecordValue) -> Face {
        Face(FaceId: value.faceId, BoundingBox: value.box, ImageId: value.imageId, ExternalImageId: value.externalImageId,
             Confidence: value.confidence, IndexFacesModelVersion: faceModelVersion, UserId: value.userId)
    }

    static func userStatus(faces: Int) -> String { faces > 0 ? "ACTIVE" : "CREATED" }

    func decode<T: Decodable>(_ body: Data) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: body.isEmpty ? Data("{}".utf8) : body)
        } catch DecodingError.keyNotFound(let key, _) {
            throw RekognitionError.invalidParameter("Missing required parameter: \(key.stringValue)")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw RekognitionError.serialization("Invalid value for \(path): \(context.debugDescription)")
        } catch DecodingError.dataCorrupted(let context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw RekognitionError.serialization("Could not read \(path.isEmpty ? "the request" : path): \(context.debugDescription)")
        } catch {
            throw RekognitionError.serialization("The request body is not valid JSON")
        }
    }

    func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }
}

extension RekognitionError {
    public static func serviceQuotaExceeded(_ message: String) -> Self { .init("ServiceQuotaExceededException", message) }
}

/// `QualityFilter`: which detected faces are good enough to index or search.
///
/// | filter | confidence ≥ | box side ≥ (px) | brightness ≥ | sharpness ≥ |
/// |---|---|---|---|---|
/// | NONE | – | – | – | – |
/// | LOW | 90 | 16 | 5 | – |
/// | AUTO (IndexFaces' default) | 90 | 16 | 5 | – |
/// | MEDIUM | 95 | 40 | 15 | 10 |
/// | HIGH | 99 | 80 | 25 | 30 |
///
/// (Brightness and Sharpness on the 0–100 scales of ``RekognitionFaceAnalyzer/quality(_:)``), plus
/// `EXTREME_POSE` beyond 75° of yaw.
///
/// 16 px: a smaller face is enlarged more than fifteenfold to the 240-px crop FaceNet embeds (the
/// course pipeline's crop size). AUTO keeps every other face the detector is sure of.
struct QualityFilter {
    enum Level: String { case none = "NONE", auto = "AUTO", low = "LOW", medium = "MEDIUM", high = "HIGH" }
    let level: Level

    init(_ text: String?, default fallback: Level) throws {
        guard let text else { level = fallback; return }
        guard let level = Level(rawValue: text) else {
            throw RekognitionError.invalidParameter("QualityFilter must be one of NONE, AUTO, LOW, MEDIUM, HIGH")
        }
        self.level = level
    }

    func reasons(_ face: AnalyzedFace) -> [String] {
        let limits: (confidence: Float, side: Float, brightness: Float, sharpness: Float)
        switch level {
        case .none: return []
        case .auto, .low: limits = (90, 16, 5, 0)
        case .medium: limits = (95, 40, 15, 10)
        case .high: limits = (99, 80, 25, 30)
        }
        var out: [String] = []
        if face.detail.Confidence < limits.confidence { out.append("LOW_CONFIDENCE") }
        if min(face.pixelWidth, face.pixelHeight) < limits.side { out.append("SMALL_BOUNDING_BOX") }
        if face.detail.Quality.Brightness < limits.brightness { out.append("LOW_BRIGHTNESS") }
        if face.detail.Quality.Sharpness < limits.sharpness { out.append("LOW_SHARPNESS") }
        if abs(face.detail.Pose.Yaw) > 75 { out.append("EXTREME_POSE") }
        return out
    }
}

/// Opaque `NextToken`s: the last key of the page, base64url-encoded.
enum PageToken {
    static func encode(_ key: String) -> String {
        Data(("v1:" + key).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }

    static func decode(_ token: String) throws -> String {
        var base64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8), text.hasPrefix("v1:") else {
            throw RekognitionError.invalidPaginationToken("Invalid pagination token")
        }
        return String(text.dropFirst(3))
    }
}

/// The members' constraints from Rekognition's model.
enum RekognitionValidation {
    static func pattern(_ value: String, name: String, max: Int, extra: Set<Character>) throws {
        guard (1...max).contains(value.count), value.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || extra.contains($0) }) else {
            throw RekognitionError.invalidParameter("\(name) \(value.debugDescription) must be 1 to \(max) characters of [a-zA-Z0-9\(String(extra.sorted()))]")
        }
    }

    static func collectionId(_ value: String) throws { try pattern(value, name: "CollectionId", max: 255, extra: ["_", ".", "-"]) }
    static func externalImageId(_ value: String) throws { try pattern(value, name: "ExternalImageId", max: 255, extra: ["_", ".", "-", ":"]) }
    static func userId(_ value: String) throws { try pattern(value, name: "UserId", max: 128, extra: ["_", ".", "-", ":"]) }

    static func faceId(_ value: String) throws {
        let parts = value.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.count) == [8, 4, 4, 4, 12], value.allSatisfy({ $0 == "-" || $0.isHexDigit && !$0.isUppercase }) else {
            throw RekognitionError.invalidParameter("FaceId \(value.debugDescription) is not a face id (a lower-case UUID)")
        }
    }

    static func pageSize(_ value: Int?, default fallback: Int, range: ClosedRange<Int>, name: String = "MaxResults") throws -> Int {
        guard let value else { return fallback }
        guard range.contains(value) else {
            throw RekognitionError.invalidParameter("\(name) must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value == 0 ? fallback : value
    }

    static func percent(_ value: Float?, default fallback: Float, name: String) throws -> Float {
        guard let value else { return fallback }
        guard (0...100).contains(value) else { throw RekognitionError.invalidParameter("\(name) must be between 0 and 100") }
        return value
    }

    static let attributeNames: Set<String> = ["DEFAULT", "ALL", "AGE_RANGE", "BEARD", "EMOTIONS", "EYE_DIRECTION", "EYEGLASSES",
                                              "EYES_OPEN", "GENDER", "MOUTH_OPEN", "MUSTACHE", "FACE_OCCLUDED", "SMILE", "SUNGLASSES"]

    /// Accepted names; every request gets the DEFAULT set (see docs/REKOGNITION.md).
    static func attributes(_ values: [String]?) throws {
        for value in values ?? [] where !attributeNames.contains(value) {
            throw RekognitionError.invalidParameter("Unknown attribute \(value.debugDescription)")
        }
    }
}
