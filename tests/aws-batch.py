# The tests' own AWS fixtures and checks, many calls in one Python process (botocore, as the aws CLI
# itself uses): each aws CLI run costs about half a CPU-second of start-up, and a fixture or a leftover
# count is a dozen calls. ferry itself is always driven through the real aws CLI; this is only for what
# the tests make and read directly. Run by libtest.sh's awsb with moto's own Python.
#   aws-batch.py deployment NAME DIR      a deployment as bootstrap makes it (lib-lifecycle.sh)
#   aws-batch.py tagged-leftovers NAME    what AWS still holds tagged ferry:name=NAME, kind by kind
#   aws-batch.py counts NAME              sg, keypairs, buckets, roles, profiles, instances (test-faults.sh)
#   aws-batch.py lookalikes NAME VPC AMI PUB   what ferry must never touch beside deployment NAME (test-teardown.sh)
#   aws-batch.py delete-default-vpc       an account without a default VPC: its subnets, gateways and itself go
#   aws-batch.py call 'SERVICE OPERATION [JSON]'...   one JSON answer a line (an error: {"Error": {...}})
#   aws-batch.py wait-instance ID STATE SECONDS   polls (every 0.5 s) until moto says instance ID is in
#                                     STATE; exit 1, its last state on stderr, when SECONDS pass first
import datetime
import json
import os
import sys
import time

import botocore.session
from botocore.exceptions import ClientError

_session = botocore.session.get_session()
_clients = {}


def client(service):
    if service not in _clients:
        _clients[service] = _session.create_client(
            service, region_name=os.environ["TEST_REGION"], endpoint_url=os.environ["MOTO_URL"]
        )
    return _clients[service]


def tag(name):
    return [{"Key": "ferry:name", "Value": name}]


LIVE = ["pending", "running", "shutting-down", "stopping", "stopped"]


def deployment(name, d):
    """Key pair (the pem made by the caller, DIR/NAME.pem.pub beside it), security group in the default
    VPC, bucket, role + policy + instance profile, and a running instance, all tagged ferry:name=NAME;
    then DIR/state.json naming them. Prints F_* assignments for the shell."""
    ec2, s3, iam = client("ec2"), client("s3"), client("iam")
    region = os.environ["TEST_REGION"]
    with open(os.path.join(d, name + ".pem.pub"), "rb") as f:
        material = f.read()
    key_id = ec2.import_key_pair(
        KeyName=name, PublicKeyMaterial=material, TagSpecifications=[{"ResourceType": "key-pair", "Tags": tag(name)}]
    )["KeyPairId"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
    sg = ec2.create_security_group(
        GroupName=name + "-ssh", Description="ferry %s: ssh" % name, VpcId=vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": tag(name)}],
    )["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="203.0.113.7/32")
    bucket = name.lower() + "-bucket"
    create_bucket(bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tag(name)})
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName=name + "-ec2", Tags=tag(name), AssumeRolePolicyDocument=json.dumps(trust))
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": [
        "arn:aws:s3:::" + bucket, "arn:aws:s3:::%s/*" % bucket]}]}
    iam.put_role_policy(RoleName=name + "-ec2", PolicyName=name + "-s3", PolicyDocument=json.dumps(policy))
    iam.create_instance_profile(InstanceProfileName=name + "-profile", Tags=tag(name))
    iam.add_role_to_instance_profile(InstanceProfileName=name + "-profile", RoleName=name + "-ec2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(
        ImageId=ami, InstanceType="t3.micro", KeyName=name, SecurityGroupIds=[sg], SubnetId=subnet,
        IamInstanceProfile={"Name": name + "-profile"}, MinCount=1, MaxCount=1,
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda",
                              "Ebs": {"VolumeSize": 8, "VolumeType": "gp3", "DeleteOnTermination": True}}],
        TagSpecifications=[{"ResourceType": "instance", "Tags": tag(name) + [{"Key": "Name", "Value": name}]},
                           {"ResourceType": "volume", "Tags": tag(name)}],
    )["Instances"][0]["InstanceId"]

    def created(**kw):
        return dict(kw, created=True)

    state = {
        "schema": "ferry-state", "version": 1, "name": name,
        "settings": {"endpoint_url": os.environ["MOTO_URL"], "region": region},
        "resources": {
            "key_pair": created(id=key_id, name=name, fingerprint=""),
            "vpc": {"id": vpc, "created": False},
            "subnet": {"id": subnet, "created": False, "az": region + "a"},
            "security_group": created(id=sg, name=name + "-ssh", cidr="203.0.113.7/32"),
            "bucket": created(id=bucket),
            "role": created(id=name + "-ec2", arn="arn:aws:iam::123456789012:role/" + name + "-ec2",
                            policy=name + "-s3"),
            "instance_profile": created(id=name + "-profile",
                                        arn="arn:aws:iam::123456789012:instance-profile/" + name + "-profile"),
            "instance": created(id=instance, type="t3.micro", ami=ami, volume_size=8, max_hours=12, spot=False,
                                public_dns=None, public_ip=None, state="running"),
        },
    }
    path = os.path.join(d, "state.json")
    with open(path, "w") as f:
        json.dump(state, f, indent=2)
    os.chmod(path, 0o600)
    for k, v in (("F_INSTANCE", instance), ("F_SG", sg), ("F_KEY_ID", key_id), ("F_VPC", vpc),
                 ("F_SUBNET", subnet), ("F_BUCKET", bucket), ("F_AMI", ami)):
        print("%s=%s" % (k, v))


def lookalikes(name, default_vpc, ami, pub):
    """Same names without the tag, or another name's tag: a VPC of its own with a group named NAME-ssh,
    a group tagged other, buckets NAME-lookalike (untagged) and other-bucket (tagged other), a key pair
    NAME-2 (the public key in file PUB) with an untagged instance, and an instance tagged other. Prints
    their ids as shell assignments."""
    ec2 = client("ec2")
    other = [{"Key": "ferry:name", "Value": "other"}]
    other_vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    lookalike_sg = ec2.create_security_group(GroupName=name + "-ssh", Description="not ferry's",
                                             VpcId=other_vpc)["GroupId"]
    other_sg = ec2.create_security_group(
        GroupName="other-ssh", Description="other", VpcId=default_vpc,
        TagSpecifications=[{"ResourceType": "security-group", "Tags": other}])["GroupId"]
    create_bucket(name + "-lookalike")
    create_bucket("other-bucket")
    client("s3").put_bucket_tagging(Bucket="other-bucket", Tagging={"TagSet": other})
    with open(pub, "rb") as f:
        ec2.import_key_pair(KeyName=name + "-2", PublicKeyMaterial=f.read())
    untagged = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", KeyName=name + "-2",
                                 MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    tagged_other = ec2.run_instances(
        ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": other}])["Instances"][0]["InstanceId"]
    for k, v in (("other_vpc", other_vpc), ("lookalike_sg", lookalike_sg), ("other_sg", other_sg),
                 ("untagged_instance", untagged), ("other_instance", tagged_other)):
        print("%s=%s" % (k, v))


def create_bucket(bucket):
    region = os.environ["TEST_REGION"]
    if region == "us-east-1":
        client("s3").create_bucket(Bucket=bucket)
    else:
        client("s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def not_found(call):
    """True when AWS says the thing does not exist; any other error is raised, never counted as gone."""
    try:
        call()
        return False
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("NoSuchEntity", "NoSuchBucket", "404"):
            return True
        raise


def tagged_leftovers(name):
    """What is still tagged ferry:name=NAME, kind by kind ("kind=N " words, or nothing), as
    lib-lifecycle.sh has always printed it."""
    ec2, s3, iam = client("ec2"), client("s3"), client("iam")
    f = [{"Name": "tag:ferry:name", "Values": [name]}]
    out = ""
    n = sum(len(r["Instances"]) for r in ec2.describe_instances(
        Filters=f + [{"Name": "instance-state-name", "Values": LIVE}])["Reservations"])
    out += "instances=%d " % n if n else ""
    for kind, call, key in (("volumes", ec2.describe_volumes, "Volumes"),
                            ("security_groups", ec2.describe_security_groups, "SecurityGroups"),
                            ("key_pairs", ec2.describe_key_pairs, "KeyPairs"),
                            ("vpcs", ec2.describe_vpcs, "Vpcs")):
        n = len(call(Filters=f)[key])
        out += "%s=%d " % (kind, n) if n else ""
    if not not_found(lambda: iam.get_role(RoleName=name + "-ec2")):
        out += "role "
    if not not_found(lambda: iam.get_instance_profile(InstanceProfileName=name + "-profile")):
        out += "profile "
    for b in s3.list_buckets()["Buckets"]:
        try:
            tags = s3.get_bucket_tagging(Bucket=b["Name"])["TagSet"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchTagSet", "NoSuchBucket"):
                continue
            raise
        if any(t["Key"] == "ferry:name" and t["Value"] == name for t in tags):
            out += "bucket:%s " % b["Name"]
    print(out)


def counts(name):
    """Everything a bootstrap of NAME makes, counted by what AWS says (not by ferry's state)."""
    ec2, s3, iam = client("ec2"), client("s3"), client("iam")
    f = [{"Name": "tag:ferry:name", "Values": [name]}]
    sg = len(ec2.describe_security_groups(Filters=f)["SecurityGroups"])
    kp = len(ec2.describe_key_pairs()["KeyPairs"])
    b = len(s3.list_buckets()["Buckets"])
    r = len([x for x in iam.list_roles()["Roles"] if x["RoleName"].startswith("ferry")])
    p = len(iam.list_instance_profiles()["InstanceProfiles"])
    i = sum(len(r["Instances"]) for r in ec2.describe_instances(
        Filters=f + [{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])[
        "Reservations"])
    print("sg=%d keypairs=%d buckets=%d roles=%d profiles=%d instances=%d" % (sg, kp, b, r, p, i))


def delete_default_vpc():
    ec2 = client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for subnet in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=subnet["SubnetId"])
    for igw in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}])[
            "InternetGateways"]:
        ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=vpc)
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc)


def call(spec):
    parts = spec.split(None, 2)
    service, operation = {"s3api": "s3"}.get(parts[0], parts[0]), parts[1]
    params = json.loads(parts[2]) if len(parts) > 2 else {}
    c = client(service)
    try:
        answer = getattr(c, _py_name(c, operation))(**params)
    except ClientError as e:
        answer = {"Error": e.response.get("Error", {})}
    answer.pop("ResponseMetadata", None)
    print(json.dumps(answer, default=_json_default))


def wait_instance(instance_id, want, seconds):
    deadline = time.monotonic() + seconds
    while True:
        r = client("ec2").describe_instances(InstanceIds=[instance_id])
        now = r["Reservations"][0]["Instances"][0]["State"]["Name"]
        if now == want:
            return
        if time.monotonic() > deadline:
            sys.stderr.write("instance %s is %s, not %s, after %d s\n" % (instance_id, now, want, seconds))
            raise SystemExit(1)
        time.sleep(0.5)


def _py_name(c, operation):
    """DescribeInstances or describe-instances -> describe_instances."""
    for py, api in c.meta.method_to_api_mapping.items():
        if operation in (api, py.replace("_", "-"), py):
            return py
    raise SystemExit("aws-batch.py: no operation %s" % operation)


def _json_default(v):
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if hasattr(v, "read"):
        return v.read().decode("utf-8", "replace")
    raise TypeError(type(v))


def main(argv):
    if len(argv) >= 3 and argv[0] == "deployment":
        deployment(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "tagged-leftovers":
        tagged_leftovers(argv[1])
    elif len(argv) == 2 and argv[0] == "counts":
        counts(argv[1])
    elif len(argv) == 5 and argv[0] == "lookalikes":
        lookalikes(*argv[1:])
    elif argv == ["delete-default-vpc"]:
        delete_default_vpc()
    elif len(argv) == 4 and argv[0] == "wait-instance":
        wait_instance(argv[1], argv[2], int(argv[3]))
    elif argv and argv[0] == "call":
        for spec in argv[1:]:
            call(spec)
    else:
        raise SystemExit("usage: aws-batch.py deployment NAME DIR | tagged-leftovers NAME | counts NAME | lookalikes NAME VPC AMI PUB | delete-default-vpc | call SPEC... | wait-instance ID STATE SECONDS")


if __name__ == "__main__":
    main(sys.argv[1:])
