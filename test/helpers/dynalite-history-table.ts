import { AddressInfo } from 'net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { newStack } from './stack-fixture';
import { DeploymentHistory } from '../../src/deployment-history';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite');

/** A history table served by dynalite on loopback, created from the library's own table definition (keys and indexes). */
export interface HistoryTableFixture {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  stop(): Promise<void>;
}

function tableDefinitionFromConstruct() {
  const stack = newStack(new App());
  new DeploymentHistory(stack, 'History');
  const tables = Template.fromStack(stack).findResources('AWS::DynamoDB::Table');
  const [table] = Object.values(tables) as any[];
  return table.Properties;
}

export async function startHistoryTable(): Promise<HistoryTableFixture> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const definition = tableDefinitionFromConstruct();
  const tableName = 'history-under-test';
  await client.send(new CreateTableCommand({
    TableName: tableName,
    KeySchema: definition.KeySchema,
    AttributeDefinitions: definition.AttributeDefinitions,
    BillingMode: definition.BillingMode,
    GlobalSecondaryIndexes: definition.GlobalSecondaryIndexes,
  }));
  return {
    doc: DynamoDBDocumentClient.from(client),
    tableName,
    stop: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
