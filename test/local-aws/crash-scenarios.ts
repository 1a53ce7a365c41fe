/**
 * Issue #14 item 3 against local AWS: a stage handler invocation that crashes is retried by Lambda
 * as documented for asynchronous invocation, then lands, as the event it was, in the dead-letter
 * queue the template names (an SQS queue, never the topic); a retry of the stage recovers.
 */
import { counts, delta, expectAlias, expectDeploymentMetrics, expectOneResultPerJob, failed, succeeded } from './expectations';
import type { ScenarioKit } from './services-scenarios';
import { actionRun, goodSource } from './world';

export function registerCrashScenarios({ scenario, worldFor }: ScenarioKit) {
  scenario('15. a crash that dead-letters: CodePipeline unavailable, Lambda retries twice, the event waits in the dead-letter queue; a stage retry recovers', async () => {
    const w = await worldFor('c15', {});
    const queues = Object.values(w.model.resources).filter((r) => r.Type === 'AWS::SQS::Queue').map((r) => r.Properties.QueueName);
    expect(queues).toEqual(['orders-api-dead-letters-dev']);
    expect(w.deadLetterQueueNames()).toEqual(queues);
    expect((await w.execute(await w.artifact(goodSource('A')), { executionId: 'exec-15-A' })).status).toBe('Succeeded');
    const before = counts(w);
    const notificationsBefore = (await w.notifications()).length;

    // CodePipeline answers ServiceUnavailable to every request: Deploy-Blue publishes, then cannot
    // report, and the invocation fails (the SDK's own retries spent).
    w.pipeline.state.unavailable = true;
    const execution = await w.execute(await w.artifact(goodSource('B')), { executionId: 'exec-15-B' });
    w.pipeline.state.unavailable = false;
    expect(execution.status).toBe('Failed');
    const crashed = actionRun(execution, 'Deploy-Blue', 'orders-api')!;
    expect(crashed.jobs).toHaveLength(1);
    // The first attempt and Lambda's two retries, each with the very event CodePipeline sent.
    expect(crashed.invocations.map((i) => [i.ok, i.error?.name])).toEqual([[false, 'ServiceUnavailable'], [false, 'ServiceUnavailable'], [false, 'ServiceUnavailable']]);
    const event = crashed.invocations[0].event;
    expect(crashed.invocations.every((i) => i.event === event)).toBe(true);
    // No invocation ever reported: CodePipeline timed the action out, and Switch-Traffic never ran.
    expect(w.pipeline.acceptedFor(crashed.jobs[0])).toEqual([]);
    expect(failed(crashed.final, 'Deploy-Blue whose event was dead-lettered')).toMatch(/timed out/);
    expect(actionRun(execution, 'Switch-Traffic', 'orders-api')).toBeUndefined();

    // Exactly one dead letter, in the template's queue: the event as delivered, credentials included
    // (why only operators may read that queue), with Lambda's documented attributes.
    const letters = await w.deadLetters();
    expect(letters.map((l) => l.queueName)).toEqual(queues);
    const [letter] = letters;
    expect(JSON.parse(letter.body)).toEqual(event);
    expect(Object.values(w.artifactCredentials).every((secret) => letter.body.includes(secret))).toBe(true);
    expect(letter.attributes).toEqual({
      RequestID: { DataType: 'String', StringValue: crashed.invocations[2].requestId },
      ErrorCode: { DataType: 'Number', StringValue: expect.stringMatching(/^\d{3}$/) },
      ErrorMessage: { DataType: 'String', StringValue: crashed.invocations[2].error!.message },
    });
    // Nothing went to the topic but the STAGED announcement (expectNoCredentialsLeaked searches it, and every other queue).
    expect((await w.notifications()).slice(notificationsBefore).map((n) => n.event)).toEqual(['STAGED']);

    // The first attempt published and recorded STAGED; the retries changed nothing.
    expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 0 });
    expect(await w.history('exec-15-B')).toMatchObject({ state: 'STAGED', currentVersion: '2', targetVersion: '3' });
    await expectAlias(w, '2');

    // The operator retries the failed stage: a new job answers from the STAGED record, publishes nothing, and the release goes on.
    await w.retryFailedActions(execution, 'Deploy-Blue');
    expect(execution.status).toBe('Succeeded');
    const retried = actionRun(execution, 'Deploy-Blue', 'orders-api')!;
    succeeded(retried.final, 'Deploy-Blue retried');
    expect(retried.final.outputVariables).toEqual({ currentVersion: '2', targetVersion: '3' });
    expect(retried.invocations.map((i) => i.ok)).toEqual([true]);
    expect(delta(before, counts(w))).toEqual({ updateFunctionCode: 1, publishVersion: 1, createDeployment: 1 });
    expect(await w.history('exec-15-B')).toMatchObject({ state: 'SUCCEEDED', currentVersion: '2', targetVersion: '3' });
    await expectAlias(w, '3');
    expect(await w.events('exec-15-B')).toEqual(['STAGED', 'STARTED', 'SUCCEEDED']);
    expectOneResultPerJob(w, [retried.jobs[0], ...actionRun(execution, 'Switch-Traffic', 'orders-api')!.jobs]);
    expectDeploymentMetrics(w, 'exec-15-B', { 'orders-api': 'Succeeded' });
    // The dead letter stays until an operator deletes it; the recovery added none.
    expect((await w.deadLetters()).map((l) => l.attributes.RequestID.StringValue)).toEqual([crashed.invocations[2].requestId]);
  }, 120_000);
}
