import { DEPLOY_BLUE_PARAMETERS } from '../../src/contract/handler-contract';
import { PipelineJob } from '../../src/runtime/codepipeline-job';
import { commitTimeOf } from '../../src/runtime/service-parameters';

const job = (commitTime?: string): PipelineJob => ({
  id: 'job-1',
  userParameters: commitTime === undefined ? {} : { commitTime },
  inputArtifacts: [],
});

test('Deploy-Blue accepts commitTime, optionally', () => {
  expect(DEPLOY_BLUE_PARAMETERS.optional).toContain('commitTime');
  expect(DEPLOY_BLUE_PARAMETERS.required).not.toContain('commitTime');
});

test.each([
  // CodePipeline's AuthorDate, as its variables reference shows it
  ['2019-10-29T03:32:21Z', '2019-10-29T03:32:21.000Z'],
  ['2019-10-29T03:32:21.123Z', '2019-10-29T03:32:21.123Z'],
  ['2019-10-29T03:32:21.123456789z', '2019-10-29T03:32:21.123Z'],
  ['2019-10-29T03:32:21,5Z', '2019-10-29T03:32:21.500Z'],
  // git's strict ISO 8601 (%aI) and the other offset spellings
  ['2019-10-29T05:32:21+02:00', '2019-10-29T03:32:21.000Z'],
  ['2019-10-28T22:32:21-0500', '2019-10-29T03:32:21.000Z'],
  ['2019-10-29T05:32:21+02', '2019-10-29T03:32:21.000Z'],
  ['2019-10-29T03:32Z', '2019-10-29T03:32:00.000Z'],
  [' 2019-10-29T03:32:21Z ', '2019-10-29T03:32:21.000Z'],
  // Unix time, seconds or milliseconds
  ['1572319941', '2019-10-29T03:32:21.000Z'],
  ['1572319941123', '2019-10-29T03:32:21.123Z'],
])('reads %j as %s', (value, expected) => {
  expect(commitTimeOf(job(value))).toEqual({ commitTime: expected });
});

test.each([
  ['', 'commitTime is empty'],
  ['   ', 'commitTime is empty'],
  ['yesterday', 'commitTime "yesterday" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
  ['2019-10-29', 'commitTime "2019-10-29" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
  ['2019-10-29T03:32:21', 'commitTime "2019-10-29T03:32:21" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
  ['2019-02-30T03:32:21Z', 'commitTime "2019-02-30T03:32:21Z" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
  ['2019-10-29T03:61:21Z', 'commitTime "2019-10-29T03:61:21Z" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
  ['#{Source_GitHub_NS.AuthorDate}', 'commitTime "#{Source_GitHub_NS.AuthorDate}" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
  ['Tue Oct 29 03:32:21 2019 +0000', 'commitTime "Tue Oct 29 03:32:21 2019 +0000" is not an ISO 8601 date and time with a zone (such as 2019-10-29T03:32:21Z)'],
])('refuses %j, saying why', (value, problem) => {
  expect(commitTimeOf(job(value))).toEqual({ problem });
});

test('no commitTime at all is nothing to report', () => {
  expect(commitTimeOf(job())).toBeUndefined();
});
