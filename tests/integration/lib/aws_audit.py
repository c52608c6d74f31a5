#!/usr/bin/env python3
"""The outside observer of the AWS tests: boto3 against the moto endpoint.

  aws_audit.py --endpoint URL audit                 everything AWS IoT holds, as JSON
  aws_audit.py --endpoint URL report THING JSON     a device reports state (UpdateThingShadow)
  aws_audit.py --endpoint URL shadow THING          GetThingShadow payload (or null)
"""
import argparse
import json
import sys

import boto3
from botocore.exceptions import ClientError


def clients(endpoint):
    kw = dict(endpoint_url=endpoint, region_name='us-east-1',
              aws_access_key_id='testing', aws_secret_access_key='testing')
    return boto3.client('iot', **kw), boto3.client('iot-data', **kw)


def audit(iot, data):
    things = []
    for t in iot.list_things(maxResults=250)['things']:
        name = t['thingName']
        things.append({'name': name, 'attributes': t.get('attributes', {}),
                       'principals': iot.list_thing_principals(thingName=name)['principals']})
    certificates = []
    for c in iot.list_certificates(pageSize=250)['certificates']:
        d = iot.describe_certificate(certificateId=c['certificateId'])['certificateDescription']
        policies = [p['policyName'] for p in iot.list_attached_policies(target=c['certificateArn'])['policies']]
        certificates.append({'id': c['certificateId'], 'arn': c['certificateArn'], 'status': d['status'],
                             'pem': d['certificatePem'], 'policies': policies})
    policies = []
    for p in iot.list_policies()['policies']:
        doc = iot.get_policy(policyName=p['policyName'])['policyDocument']
        policies.append({'name': p['policyName'], 'document': json.loads(doc)})
    shadows = {}
    for t in things:
        try:
            shadows[t['name']] = json.loads(data.get_thing_shadow(thingName=t['name'])['payload'].read())
        except ClientError:
            pass
    return {'things': things, 'certificates': certificates, 'policies': policies, 'shadows': shadows}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--endpoint', required=True)
    parser.add_argument('command')
    parser.add_argument('args', nargs='*')
    a = parser.parse_args()
    iot, data = clients(a.endpoint)
    if a.command == 'audit':
        out = audit(iot, data)
    elif a.command == 'report':
        data.update_thing_shadow(thingName=a.args[0],
                                 payload=json.dumps({'state': {'reported': json.loads(a.args[1])}}).encode())
        out = {'ok': True}
    elif a.command == 'shadow':
        try:
            out = json.loads(data.get_thing_shadow(thingName=a.args[0])['payload'].read())
        except ClientError:
            out = None
    else:
        sys.exit('unknown command ' + a.command)
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
