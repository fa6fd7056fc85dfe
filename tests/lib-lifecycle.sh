# Helpers for the lifecycle tests: a deployment made directly with the real aws CLI against moto (the
# names and tags of the shared data model, and the state file bootstrap would write), and checks that
# nothing tagged by ferry is left.
# shellcheck shell=bash

# fixture_deployment NAME STATE_DIR: key pair (pem in STATE_DIR), security group in the default VPC,
# bucket, role + policy + instance profile, and a running instance, all tagged ferry:name=NAME, and
# STATE_DIR/state.json naming them. Sets F_INSTANCE F_SG F_KEY_ID F_VPC F_SUBNET F_BUCKET F_AMI.
fixture_deployment() {
    local name=$1 dir=$2 tag ami
    tag="{Key=ferry:name,Value=$name}"
    mkdir -p "$dir" && chmod 700 "$dir"
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/$name.pem" >/dev/null
    chmod 400 "$dir/$name.pem"
    F_KEY_ID=$(awsm ec2 import-key-pair --key-name "$name" --public-key-material "fileb://$dir/$name.pem.pub" \
        --tag-specifications "ResourceType=key-pair,Tags=[$tag]" --query KeyPairId --output text)
    rm -f "$dir/$name.pem.pub"
    F_VPC=$(awsm ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId' --output text)
    F_SUBNET=$(awsm ec2 describe-subnets --filters "Name=vpc-id,Values=$F_VPC" --query 'Subnets[0].SubnetId' --output text)
    F_SG=$(awsm ec2 create-security-group --group-name "$name-ssh" --description "ferry $name: ssh" \
        --vpc-id "$F_VPC" --tag-specifications "ResourceType=security-group,Tags=[$tag]" --query GroupId --output text)
    awsm ec2 authorize-security-group-ingress --group-id "$F_SG" --protocol tcp --port 22 --cidr 203.0.113.7/32 >/dev/null
    F_BUCKET="${name,,}-bucket"
    awsm_create_bucket "$F_BUCKET"
    awsm s3api put-bucket-tagging --bucket "$F_BUCKET" --tagging "TagSet=[$tag]"
    awsm iam create-role --role-name "$name-ec2" --tags "Key=ferry:name,Value=$name" \
        --assume-role-policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}' >/dev/null
    awsm iam put-role-policy --role-name "$name-ec2" --policy-name "$name-s3" \
        --policy-document "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":[\"arn:aws:s3:::$F_BUCKET\",\"arn:aws:s3:::$F_BUCKET/*\"]}]}"
    awsm iam create-instance-profile --instance-profile-name "$name-profile" --tags "Key=ferry:name,Value=$name" >/dev/null
    awsm iam add-role-to-instance-profile --instance-profile-name "$name-profile" --role-name "$name-ec2"
    ami=$(awsm ec2 describe-images --owners amazon --query 'Images[0].ImageId' --output text)
    F_AMI=$ami
    F_INSTANCE=$(awsm ec2 run-instances --image-id "$ami" --instance-type t3.micro --key-name "$name" \
        --security-group-ids "$F_SG" --subnet-id "$F_SUBNET" --iam-instance-profile "Name=$name-profile" \
        --block-device-mappings 'DeviceName=/dev/xvda,Ebs={VolumeSize=8,VolumeType=gp3,DeleteOnTermination=true}' \
        --tag-specifications "ResourceType=instance,Tags=[$tag,{Key=Name,Value=$name}]" "ResourceType=volume,Tags=[$tag]" \
        --query 'Instances[0].InstanceId' --output text)
    export F_INSTANCE F_SG F_KEY_ID F_VPC F_SUBNET F_BUCKET F_AMI
    fixture_state "$name" "$dir"
}

# Writes STATE_DIR/state.json for the fixture's resources (as bootstrap records them).
fixture_state() {
    NAME=$1 DIR=$2 python3 - <<'PY'
import json, os
e = os.environ
name = e["NAME"]
created = lambda **kw: dict(kw, created=True)
state = {
    "schema": "ferry-state", "version": 1, "name": name,
    "settings": {"endpoint_url": e["MOTO_URL"], "region": e["TEST_REGION"]},
    "resources": {
        "key_pair": created(id=e["F_KEY_ID"], name=name, fingerprint=""),
        "vpc": {"id": e["F_VPC"], "created": False},
        "subnet": {"id": e["F_SUBNET"], "created": False, "az": e["TEST_REGION"] + "a"},
        "security_group": created(id=e["F_SG"], name=name + "-ssh", cidr="203.0.113.7/32"),
        "bucket": created(id=e["F_BUCKET"]),
        "role": created(id=name + "-ec2", arn="arn:aws:iam::123456789012:role/" + name + "-ec2", policy=name + "-s3"),
        "instance_profile": created(id=name + "-profile", arn="arn:aws:iam::123456789012:instance-profile/" + name + "-profile"),
        "instance": created(id=e["F_INSTANCE"], type="t3.micro", ami=e["F_AMI"], volume_size=8, max_hours=12,
                            spot=False, public_dns=None, public_ip=None, state="running"),
    },
}
path = os.path.join(e["DIR"], "state.json")
with open(path, "w") as f:
    json.dump(state, f, indent=2)
os.chmod(path, 0o600)
PY
}

# The live state of an instance, as AWS says.
instance_state() {
    awsm ec2 describe-instances --instance-ids "$1" --query 'Reservations[0].Instances[0].State.Name' --output text
}

# Counts what is still tagged ferry:name=NAME, kind by kind, straight from AWS ("kind=N" words, or empty).
tagged_leftovers() {
    local name=$1 out="" n b
    n=$(awsm ec2 describe-instances --filters "Name=tag:ferry:name,Values=$name" \
        Name=instance-state-name,Values=pending,running,shutting-down,stopping,stopped \
        --query 'length(Reservations[].Instances[])' --output text)
    [ "$n" = 0 ] || out+="instances=$n "
    n=$(awsm ec2 describe-volumes --filters "Name=tag:ferry:name,Values=$name" --query 'length(Volumes)' --output text)
    [ "$n" = 0 ] || out+="volumes=$n "
    n=$(awsm ec2 describe-security-groups --filters "Name=tag:ferry:name,Values=$name" --query 'length(SecurityGroups)' --output text)
    [ "$n" = 0 ] || out+="security_groups=$n "
    n=$(awsm ec2 describe-key-pairs --filters "Name=tag:ferry:name,Values=$name" --query 'length(KeyPairs)' --output text)
    [ "$n" = 0 ] || out+="key_pairs=$n "
    n=$(awsm ec2 describe-vpcs --filters "Name=tag:ferry:name,Values=$name" --query 'length(Vpcs)' --output text)
    [ "$n" = 0 ] || out+="vpcs=$n "
    if awsm iam get-role --role-name "$name-ec2" >/dev/null 2>&1; then out+="role "; fi
    if awsm iam get-instance-profile --instance-profile-name "$name-profile" >/dev/null 2>&1; then out+="profile "; fi
    for b in $(awsm s3api list-buckets --query 'Buckets[].Name' --output text); do
        if awsm s3api get-bucket-tagging --bucket "$b" --query "TagSet[?Key=='ferry:name'].Value" --output text 2>/dev/null \
            | grep -qx "$name"; then
            out+="bucket:$b "
        fi
    done
    echo "$out"
}

# fault_op_install OP:CODE:TIMES...: the first TIMES calls of aws operation OP fail with AWS error CODE;
# `fault_op_count OP` says how many calls of OP were made.
fault_op_install() {
    export FAULT_OPS="$*" FAULT_OP_DIR="$TEST_TMP/fault-op"
    mkdir -p "$FAULT_OP_DIR/bin"
    rm -f "$FAULT_OP_DIR"/count-*
    : "${FAULT_OP_REAL_AWS:=$(command -v aws)}"
    export FAULT_OP_REAL_AWS
    ln -sf "$FERRY_SOURCE_DIR/tests/fault-aws-op" "$FAULT_OP_DIR/bin/aws"
    case ":$PATH:" in *":$FAULT_OP_DIR/bin:"*) ;; *) export PATH="$FAULT_OP_DIR/bin:$PATH" ;; esac
}

fault_op_remove() {
    [ -n "${FAULT_OP_DIR:-}" ] || return 0
    PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$FAULT_OP_DIR/bin" | paste -sd:)
    export PATH
}

fault_op_count() { cat "$FAULT_OP_DIR/count-$1" 2>/dev/null || echo 0; }
