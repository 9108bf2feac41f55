#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into Fuzz/corpus/<Target>/ (gitignored).

Sources: the committed fixtures (Tests/Fixtures/images, Tests/Fixtures/weights), a few files
of the shared data set (copied at run time, never committed: FACEREC_TEST_DATA or
../shared/data), and small inputs generated here (tiny JPEG/PNG variants with PIL, tiny
PyTorch checkpoints with torch, safetensors by hand, AWS response and S3 event bodies in the
shapes the services send). Usage: python3 Fuzz/make_seeds.py [--out DIR]
"""
import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write(directory: Path, name: str, data: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def copy_files(directory: Path, files) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f, directory / f.name)


# ---------------------------------------------------------------------------------- images
def tiny_images() -> dict:
    from PIL import Image

    out = {}

    def save(name, image, fmt, **kw):
        buf = io.BytesIO()
        image.save(buf, fmt, **kw)
        out[name] = buf.getvalue()

    rgb = Image.new("RGB", (3, 2))
    rgb.putdata([(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 99, 199), (255, 255, 255), (0, 0, 0)])
    save("tiny_rgb.jpg", rgb, "JPEG", quality=90)
    save("tiny_progressive.jpg", rgb.resize((17, 9)), "JPEG", progressive=True)
    save("tiny_420.jpg", rgb.resize((16, 16)), "JPEG", subsampling=2)
    save("tiny_grey.jpg", rgb.convert("L"), "JPEG")
    save("tiny_cmyk.jpg", rgb.convert("CMYK"), "JPEG")
    save("tiny_rgb.png", rgb, "PNG")
    save("tiny_rgba.png", rgb.convert("RGBA"), "PNG")
    save("tiny_palette.png", rgb.convert("P"), "PNG")
    save("tiny_bilevel.png", rgb.convert("1"), "PNG")
    save("one_pixel.png", Image.new("L", (1, 1), 128), "PNG")
    save("one_pixel.jpg", Image.new("RGB", (1, 1), (10, 20, 30)), "JPEG")
    # EXIF orientation 6 in a JPEG APP1 and a PNG eXIf chunk; and a big-endian one.
    exif = Image.Exif()
    exif[0x0112] = 6
    save("tiny_exif6.jpg", rgb, "JPEG", exif=exif.tobytes())
    save("tiny_exif6.png", rgb, "PNG", exif=exif.tobytes())
    tiff_be = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x08\x00\x00\x00\x00\x00\x00"
    save("tiny_exif8_be.jpg", rgb, "JPEG", exif=b"Exif\x00\x00" + tiff_be)
    return out


def image_seeds(directory: Path, shared: Path) -> None:
    fixtures = ROOT / "Tests" / "Fixtures" / "images"
    copy_files(directory, sorted(fixtures.glob("*.jpg")) + sorted(fixtures.glob("*.png")))
    for name, data in tiny_images().items():
        write(directory, name, data)
    faces = shared / "face_images_100"
    if faces.is_dir():  # a few real 64x64 face JPEGs
        copy_files(directory, sorted(faces.glob("*.jpg"))[:5])
    else:
        print(f"note: {faces} not found; image corpus without shared faces", file=sys.stderr)


# --------------------------------------------------------------------------------- weights
def safetensors_bytes(tensors: dict, metadata=None) -> bytes:
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def weight_seeds(directory: Path, shared: Path) -> None:
    fixtures = ROOT / "Tests" / "Fixtures" / "weights"
    copy_files(directory, sorted(fixtures.glob("*.pt")) + sorted(fixtures.glob("*.safetensors")))
    pnet = ROOT / "weights" / "pnet.pt"  # 28 kB, the legacy format as facenet-pytorch ships it
    if pnet.exists():
        copy_files(directory, [pnet])
    data_pt = shared / "data.pt"  # the course gallery: a list, not a state dict (zip format)
    if data_pt.exists():
        copy_files(directory, [data_pt])
    write(directory, "tiny_f32.safetensors",
          safetensors_bytes({"w": ("F32", [2, 2], struct.pack("<4f", 1, -2, 3.5, 0))}, {"format": "pt"}))
    write(directory, "tiny_mixed.safetensors", safetensors_bytes({
        "h": ("F16", [3], struct.pack("<3e", 1.0, -0.5, 65504.0)),
        "b": ("BF16", [2], b"\x80\x3f\x00\xc0"),
        "i": ("I64", [1], struct.pack("<q", -7)),
        "u": ("U8", [2, 1], b"\x01\xff"),
        "s": ("F64", [], struct.pack("<d", 2.25)),
    }))
    try:
        import torch
    except ImportError:
        print("note: torch missing; no generated .pt seeds", file=sys.stderr)
        return
    state = {"conv.weight": torch.arange(6, dtype=torch.float32).reshape(1, 2, 3),
             "conv.bias": torch.tensor([0.5], dtype=torch.float64),
             "bn.num_batches_tracked": torch.tensor(3)}
    for name, kwargs in [("tiny_zip.pt", {}), ("tiny_legacy.pt", {"_use_new_zipfile_serialization": False})]:
        buf = io.BytesIO()
        torch.save(state, buf, **kwargs)
        write(directory, name, buf.getvalue())
    buf = io.BytesIO()  # a strided view (transpose) and a training-checkpoint wrapper
    torch.save({"state_dict": {"t": torch.arange(6.0).reshape(2, 3).t()}, "epoch": 1}, buf)
    write(directory, "tiny_wrapped_view.pt", buf.getvalue())


# ----------------------------------------------------------------------------- AWS bodies
S3_NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
LIST_BODY = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult {S3_NS}><Name>in-bucket</Name><Prefix>in%2F</Prefix><KeyCount>3</KeyCount>
<MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
<Contents><Key>in%2Ftest_00.jpg</Key><LastModified>2026-11-29T02:10:00.000Z</LastModified>
<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>2765</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>in%2Fa+b%25c.jpg</Key><LastModified>2026-11-29T02:10:01Z</LastModified><ETag>"x"</ETag><Size>0</Size></Contents>
<Contents><Key><![CDATA[in/cdata&key.png]]></Key><Size>18446744073709551616</Size></Contents>
<CommonPrefixes><Prefix>in%2Fsub%2F</Prefix></CommonPrefixes></ListBucketResult>"""
S3_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>k</Key>
<RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>"""
EC2_NS = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'
EC2_INSTANCE = """<item><instanceId>i-0123456789abcdef0</instanceId><imageId>ami-12345678</imageId>
<instanceState><code>16</code><name>running</name></instanceState><privateIpAddress>10.0.0.12</privateIpAddress>
<instanceType>t3.micro</instanceType><launchTime>2026-11-29T02:10:00.000Z</launchTime><subnetId>subnet-1</subnetId>
<tagSet><item><key>role</key><value>worker</value></item><item><key>Name</key><value>w &amp; 1</value></item></tagSet></item>"""
EC2_DESCRIBE = f"""<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse {EC2_NS}><requestId>8f7724cf-496f-496e-8fe3-example</requestId>
<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId>
<instancesSet>{EC2_INSTANCE}</instancesSet></item></reservationSet><nextToken>tok</nextToken></DescribeInstancesResponse>"""
EC2_RUN = f"""<RunInstancesResponse {EC2_NS}><requestId>r</requestId><reservationId>r-2</reservationId>
<instancesSet>{EC2_INSTANCE.replace('running', 'pending')}</instancesSet></RunInstancesResponse>"""
EC2_TERMINATE = f"""<TerminateInstancesResponse {EC2_NS}><requestId>r</requestId><instancesSet><item>
<instanceId>i-0123456789abcdef0</instanceId><currentState><code>32</code><name>shutting-down</name></currentState>
<previousState><code>16</code><name>running</name></previousState></item></instancesSet></TerminateInstancesResponse>"""
EC2_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors>
<RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>"""


def response(selector: int, status_byte: int, headers: dict, body: str | bytes) -> bytes:
    """The FuzzAWSSupport input layout: selector, status byte, header lines, blank line, body."""
    head = "".join(f"{k}: {v}\n" for k, v in headers.items())
    body = body.encode() if isinstance(body, str) else body
    return bytes([selector, status_byte]) + head.encode() + b"\n\n" + body if headers else \
        bytes([selector, status_byte]) + b"\n\n" + body


def s3_seeds(directory: Path) -> None:
    ok, e404, e503 = 0, 7, 11  # status bytes: even → 200; (odd/2) % 7 picks 301,400,...,503
    write(directory, "list", response(0, ok, {"x-amz-request-id": "R1"}, LIST_BODY))
    write(directory, "list_plain", response(0, ok, {}, LIST_BODY.replace("<EncodingType>url</EncodingType>", "")
                                            .replace("<IsTruncated>true", "<IsTruncated>false")))
    write(directory, "get", response(1, ok, {"content-length": "5", "content-type": "image/jpeg", "etag": '"abc"',
                                             "last-modified": "Sun, 29 Nov 2026 02:10:00 GMT",
                                             "x-amz-meta-origin": "upload", "content-range": "bytes 0-4/9"}, b"\xff\xd8\xff\xe0\x00"))
    write(directory, "head_404", response(2, e404, {"x-amz-request-id": "R2"}, b""))
    write(directory, "put", response(3, ok, {"etag": '"d41d8cd98f00b204e9800998ecf8427e"'}, b""))
    write(directory, "error_nosuchkey", response(1, e404, {}, S3_ERROR))
    write(directory, "error_slowdown", response(4, e503, {}, S3_ERROR.replace("NoSuchKey", "SlowDown")))
    write(directory, "error_json", response(1, 3, {}, '{"__type":"com.amazonaws#AccessDenied","message":"no"}'))
    write(directory, "raw_xml", response(5, ok, {}, LIST_BODY))


def sqs_seeds(directory: Path) -> None:
    body = '{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"in"},"object":{"key":"test_00.jpg"}}}]}'
    message = {"MessageId": "a1", "ReceiptHandle": "AQEB+handle==", "Body": body,
               "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
               "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1764382200000"},
               "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "job"},
                                     "blob": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"\x00\x01").decode()}}}
    write(directory, "receive", response(0, 0, {}, json.dumps({"Messages": [message]})))
    write(directory, "receive_empty", response(0, 0, {}, "{}"))
    write(directory, "receive_bad_md5", response(0, 0, {}, json.dumps({"Messages": [dict(message, MD5OfBody="0" * 32)]})))
    write(directory, "send", response(1, 0, {}, json.dumps({"MessageId": "m1", "MD5OfMessageBody": hashlib.md5(b"hello").hexdigest()})))
    write(directory, "send_batch", response(2, 0, {}, json.dumps({
        "Successful": [{"Id": "0", "MessageId": "m1", "MD5OfMessageBody": "x"}],
        "Failed": [{"Id": "1", "Code": "InvalidMessageContents", "Message": "bad", "SenderFault": True}]})))
    write(directory, "delete_batch", response(3, 0, {}, json.dumps({"Successful": [{"Id": "0"}], "Failed": []})))
    write(directory, "create", response(4, 0, {}, json.dumps({"QueueUrl": "http://127.0.0.1:5000/123456789012/jobs"})))
    write(directory, "attributes", response(5, 0, {}, json.dumps({"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:123456789012:jobs",
                                                                                "ApproximateNumberOfMessages": "3"}})))
    write(directory, "error_json", response(6, 3, {"x-amzn-requestid": "R"}, json.dumps({
        "__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "The specified queue does not exist."})))
    write(directory, "error_xml_moto", response(0, 3, {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
                                                 "<ErrorResponse><Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
                                                 "<Message>no queue</Message></Error><RequestId>r</RequestId></ErrorResponse>"))
    write(directory, "throttled", response(1, 11, {}, json.dumps({"__type": "ThrottlingException"})))


def ec2_seeds(directory: Path) -> None:
    write(directory, "describe", response(0, 0, {}, EC2_DESCRIBE))
    write(directory, "run", response(1, 0, {}, EC2_RUN))
    write(directory, "terminate", response(2, 0, {}, EC2_TERMINATE))
    write(directory, "error", response(0, 3, {}, EC2_ERROR))


def xml_seeds(directory: Path) -> None:
    for name, text in [("list", LIST_BODY), ("s3_error", S3_ERROR), ("describe", EC2_DESCRIBE), ("run", EC2_RUN),
                       ("terminate", EC2_TERMINATE), ("ec2_error", EC2_ERROR),
                       ("entities", '<!DOCTYPE a [<!ENTITY e "x&#38;y">]><a b="1">&e;&amp;&#x41;<b/>t<![CDATA[<c>]]></a>')]:
        write(directory, name, text.encode())


# ------------------------------------------------------------------------ SQS job bodies
def s3_event(records) -> str:
    return json.dumps({"Records": records})


def s3_record(key: str, event="ObjectCreated:Put", bucket="facerec-input") -> dict:
    # The shape S3 sends (event version 2.1), keys form-URL-encoded ('+' for space).
    return {"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-29T02:10:00.000Z", "eventName": event,
            "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"}, "requestParameters": {"sourceIPAddress": "203.0.113.7"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "jobs",
                   "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                              "arn": f"arn:aws:s3:::{bucket}"},
                   "object": {"key": key, "size": 2765, "eTag": "fba9dede5f27731c9771645a39863328",
                              "sequencer": "0055AED6DCD90281E5"}}}


def job_seeds(directory: Path) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-11-29T02:10:00.000Z",
                  "Bucket": "facerec-input", "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}
    bodies = {
        "plain_key": "test_00.jpg",
        "plain_key_nested": "uploads/2026/face one.png",
        "event_put": s3_event([s3_record("test_00.jpg")]),
        "event_plus_space": s3_event([s3_record("face+images%2Ftest+00%2B1.jpg")]),
        "event_unicode": s3_event([s3_record("caf%C3%A9+%E2%9C%93.jpg", "ObjectCreated:CompleteMultipartUpload")]),
        "event_multi": s3_event([s3_record("a.jpg"), s3_record("b.jpg", "ObjectCreated:Copy"),
                                 s3_record("gone.jpg", "ObjectRemoved:Delete")]),
        "event_removed_only": s3_event([s3_record("gone.jpg", "ObjectRemoved:Delete")]),
        "event_bad_percent": s3_event([s3_record("bad%zz.jpg")]),
        "event_dotdot": s3_event([s3_record("..%2F..%2Fetc%2Fpasswd")]),
        "test_event": json.dumps(test_event),
        "sns_wrapped": json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                                   "Message": s3_event([s3_record("sns.jpg")]), "Timestamp": "2026-11-29T02:10:00.000Z"}),
        "not_s3": s3_event([dict(s3_record("x.jpg"), eventSource="aws:sqs")]),
        "records_not_array": '{"Records": {"a": 1}}',
        "truncated": s3_event([s3_record("test_00.jpg")])[:90],
    }
    for name, text in bodies.items():
        write(directory, name, text.encode())


def multipart_seeds(directory: Path) -> None:
    jpeg = tiny_images()["one_pixel.jpg"]
    b = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
    form = (f"--{b}\r\nContent-Disposition: form-data; name=\"inputFile\"; filename=\"test_00.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + jpeg + f"\r\n--{b}--\r\n".encode()
    write(directory, "upload", f"multipart/form-data; boundary={b}\n".encode() + form)
    two = (f"preamble\r\n--{b}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
           f"--{b}\r\ncontent-disposition: form-data; name=inputFile; filename=\"a \\\"q\\\".png\"\r\n\r\nPNG\r\n--{b}--").encode()
    write(directory, "two_parts", f'multipart/form-data; charset=utf-8; boundary="{b}"\n'.encode() + two)
    write(directory, "no_close", f"multipart/form-data; boundary=x\n".encode() + b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nbody")
    write(directory, "not_multipart", b"application/json\n{}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "Fuzz" / "corpus")
    args = parser.parse_args()
    shared = Path(os.environ.get("FACEREC_TEST_DATA", ROOT.parent / "shared" / "data"))
    if not shared.is_dir():
        shared = ROOT / ".." / "shared" / "data"
    out = args.out
    image_seeds(out / "FuzzImageDecoder", shared)
    image_seeds(out / "FuzzCImageIO", shared)
    weight_seeds(out / "FuzzWeights", shared)
    s3_seeds(out / "FuzzS3XML")
    sqs_seeds(out / "FuzzSQSJSON")
    ec2_seeds(out / "FuzzEC2XML")
    xml_seeds(out / "FuzzAWSXML")
    job_seeds(out / "FuzzJobMessage")
    multipart_seeds(out / "FuzzMultipart")
    for d in sorted(out.iterdir()):
        files = list(d.iterdir())
        print(f"{d.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")


if __name__ == "__main__":
    main()
