import Foundation

// Rekognition's JSON shapes (botocore `rekognition/2016-06-27/service-2.json`), the members this
// server reads or writes. Names are the wire names; optional members are left out of the JSON
// when nil, as the AWS services do.

// MARK: Common

public struct RekognitionImage: Codable, Sendable {
    /// Base64 in JSON (Foundation's `Data` coding).
    public var Bytes: Data?
    public var S3Object: RekognitionS3Object?
}

public struct RekognitionS3Object: Codable, Sendable {
    public var Bucket: String?
    public var Name: String?
    public var Version: String?
}

public struct BoundingBox: Codable, Sendable, Equatable {
    /// Ratios of the image's width and height.
    public var Width: Float
    public var Height: Float
    public var Left: Float
    public var Top: Float
}

public struct Landmark: Codable, Sendable, Equatable {
    public var `Type`: String
    /// Ratios of the image's width and height.
    public var X: Float
    public var Y: Float
}

public struct Pose: Codable, Sendable, Equatable {
    public var Roll: Float
    public var Yaw: Float
    /// Not estimated (five landmarks constrain it poorly): left out of the JSON.
    public var Pitch: Float?
}

public struct ImageQuality: Codable, Sendable, Equatable {
    public var Brightness: Float
    public var Sharpness: Float
}

/// DetectFaces' and IndexFaces' description of one face (the DEFAULT attribute set).
public struct FaceDetail: Codable, Sendable, Equatable {
    public var BoundingBox: BoundingBox
    public var Landmarks: [Landmark]
    public var Pose: Pose
    public var Quality: ImageQuality
    public var Confidence: Float
}

/// CompareFaces' description of a face.
public struct ComparedFace: Codable, Sendable, Equatable {
    public var BoundingBox: BoundingBox
    public var Confidence: Float
    public var Landmarks: [Landmark]
    public var Pose: Pose
    public var Quality: ImageQuality
}

/// A face stored in a collection.
public struct Face: Codable, Sendable, Equatable {
    public var FaceId: String
    public var BoundingBox: BoundingBox
    public var ImageId: String
    public var ExternalImageId: String?
    public var Confidence: Float
    public var IndexFacesModelVersion: String
    public var UserId: String?
}

public struct FaceMatch: Codable, Sendable, Equatable {
    public var Similarity: Float
    public var Face: Face
}

public struct User: Codable, Sendable, Equatable {
    public var UserId: String
    public var UserStatus: String
}

public struct UserMatch: Codable, Sendable, Equatable {
    public var Similarity: Float
    public var User: User
}

// MARK: Collections

struct CreateCollectionRequest: Decodable { var CollectionId: String; var Tags: [String: String]? }
struct CreateCollectionResponse: Encodable { var StatusCode: Int; var CollectionArn: String; var FaceModelVersion: String }

struct CollectionRequest: Decodable { var CollectionId: String }
struct DescribeCollectionResponse: Encodable {
    var FaceCount: Int; var FaceModelVersion: String; var CollectionARN: String
    /// Seconds since 1970 (the JSON protocol's timestamp form).
    var CreationTimestamp: Double
    var UserCount: Int
}
struct ListCollectionsRequest: Decodable { var NextToken: String?; var MaxResults: Int? }
struct ListCollectionsResponse: Encodable { var CollectionIds: [String]; var NextToken: String?; var FaceModelVersions: [String] }
struct StatusCodeResponse: Encodable { var StatusCode: Int }

// MARK: Faces

struct IndexFacesRequest: Decodable {
    var CollectionId: String
    var Image: RekognitionImage
    var ExternalImageId: String?
    var DetectionAttributes: [String]?
    var MaxFaces: Int?
    var QualityFilter: String?
}
struct FaceRecord: Encodable { var Face: Face; var FaceDetail: FaceDetail }
struct UnindexedFace: Encodable { var Reasons: [String]; var FaceDetail: FaceDetail }
struct IndexFacesResponse: Encodable {
    var FaceRecords: [FaceRecord]; var FaceModelVersion: String; var UnindexedFaces: [UnindexedFace]
}

struct ListFacesRequest: Decodable {
    var CollectionId: String; var NextToken: String?; var MaxResults: Int?; var UserId: String?; var FaceIds: [String]?
}
struct ListFacesResponse: Encodable { var Faces: [Face]; var NextToken: String?; var FaceModelVersion: String }

struct DeleteFacesRequest: Decodable { var CollectionId: String; var FaceIds: [String] }
struct UnsuccessfulFaceDeletion: Encodable { var FaceId: String; var UserId: String?; var Reasons: [String] }
struct DeleteFacesResponse: Encodable { var DeletedFaces: [String]; var UnsuccessfulFaceDeletions: [UnsuccessfulFaceDeletion] }

struct SearchFacesRequest: Decodable {
    var CollectionId: String; var FaceId: String; var MaxFaces: Int?; var FaceMatchThreshold: Float?
}
struct SearchFacesResponse: Encodable { var SearchedFaceId: String; var FaceMatches: [FaceMatch]; var FaceModelVersion: String }

struct SearchFacesByImageRequest: Decodable {
    var CollectionId: String; var Image: RekognitionImage; var MaxFaces: Int?; var FaceMatchThreshold: Float?; var QualityFilter: String?
}
struct SearchFacesByImageResponse: Encodable {
    var SearchedFaceBoundingBox: BoundingBox; var SearchedFaceConfidence: Float; var FaceMatches: [FaceMatch]; var FaceModelVersion: String
}

// MARK: Images

struct CompareFacesRequest: Decodable {
    var SourceImage: RekognitionImage; var TargetImage: RekognitionImage; var SimilarityThreshold: Float?; var QualityFilter: String?
}
struct ComparedSourceImageFace: Encodable { var BoundingBox: BoundingBox; var Confidence: Float }
struct CompareFacesMatch: Encodable { var Similarity: Float; var Face: ComparedFace }
struct CompareFacesResponse: Encodable {
    var SourceImageFace: ComparedSourceImageFace; var FaceMatches: [CompareFacesMatch]; var UnmatchedFaces: [ComparedFace]
}

struct DetectFacesRequest: Decodable { var Image: RekognitionImage; var Attributes: [String]? }
struct DetectFacesResponse: Encodable { var FaceDetails: [FaceDetail] }

// MARK: Users

struct UserRequest: Decodable { var CollectionId: String; var UserId: String; var ClientRequestToken: String? }
struct EmptyResponse: Encodable {}
struct ListUsersRequest: Decodable { var CollectionId: String; var MaxResults: Int?; var NextToken: String? }
struct ListUsersResponse: Encodable { var Users: [User]; var NextToken: String? }

struct UserFacesRequest: Decodable {
    var CollectionId: String; var UserId: String; var FaceIds: [String]; var UserMatchThreshold: Float?; var ClientRequestToken: String?
}
struct FaceIdItem: Encodable { var FaceId: String }
struct UnsuccessfulFaceAssociation: Encodable { var FaceId: String; var UserId: String?; var Confidence: Float?; var Reasons: [String] }
struct AssociateFacesResponse: Encodable {
    var AssociatedFaces: [FaceIdItem]; var UnsuccessfulFaceAssociations: [UnsuccessfulFaceAssociation]; var UserStatus: String
}
struct UnsuccessfulFaceDisassociation: Encodable { var FaceId: String; var UserId: String?; var Reasons: [String] }
struct DisassociateFacesResponse: Encodable {
    var DisassociatedFaces: [FaceIdItem]; var UnsuccessfulFaceDisassociations: [UnsuccessfulFaceDisassociation]; var UserStatus: String
}

struct SearchUsersRequest: Decodable {
    var CollectionId: String; var UserId: String?; var FaceId: String?; var UserMatchThreshold: Float?; var MaxUsers: Int?
}
struct SearchedFace: Encodable { var FaceId: String }
struct SearchedUser: Encodable { var UserId: String }
struct SearchUsersResponse: Encodable {
    var UserMatches: [UserMatch]; var FaceModelVersion: String; var SearchedFace: SearchedFace?; var SearchedUser: SearchedUser?
}
struct SearchUsersByImageRequest: Decodable {
    var CollectionId: String; var Image: RekognitionImage; var UserMatchThreshold: Float?; var MaxUsers: Int?; var QualityFilter: String?
}
struct SearchedFaceDetails: Encodable { var FaceDetail: FaceDetail }
struct UnsearchedFace: Encodable { var FaceDetails: FaceDetail; var Reasons: [String] }
struct SearchUsersByImageResponse: Encodable {
    var UserMatches: [UserMatch]; var FaceModelVersion: String; var SearchedFace: SearchedFaceDetails?; var UnsearchedFaces: [UnsearchedFace]
}
