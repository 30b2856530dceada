// The tutorial gateway connector in JavaScript: it reports one API, named by
// the config key `greeting_api`, and counts in its key-value store how often
// it was asked. The same behaviour as examples/hello-connector (Rust).
import { log, kvGet, kvSet, configGet } from 'portico:plugin/host@0.1.1';

const unsupported = (what) => {
  // A thrown { tag, val } becomes the `plugin-error` of the result.
  throw { tag: 'unsupported', val: `hello-connector-js does not implement ${what}` };
};

function calls() {
  const stored = kvGet('calls');
  const count = stored ? Number(new TextDecoder().decode(stored)) + 1 : 1;
  kvSet('calls', new TextEncoder().encode(String(count)));
  return count;
}

export const connector = {
  describe() {
    return {
      kind: 'hello-js',
      version: undefined,
      capabilities: ['discover'],
      keyConstraints: undefined,
    };
  },

  discover(_page) {
    const name = configGet('greeting_api') ?? 'hello';
    const count = calls();
    log('info', 'discovering', [['api', name], ['calls', String(count)]]);
    return {
      apis: [
        {
          id: name,
          name,
          title: name,
          description: `Discovered ${count} time(s).`,
          version: undefined,
          versionGroup: undefined,
          environments: [],
          tags: ['javascript'],
          labels: [],
          specAvailable: false,
          planIds: [],
        },
      ],
      plans: [],
      next: undefined,
    };
  },

  fetchSpec(_apiId, _environment) {
    return undefined;
  },
  provisionCredential(_request) {
    return unsupported('provision-credential');
  },
  revokeCredential(_credentialRef, _mode) {
    return unsupported('revoke-credential');
  },
  collectUsage(_cursor, _maxRecords) {
    return unsupported('collect-usage');
  },
  ingestUsage(_contentType, _body) {
    return unsupported('ingest-usage');
  },
};
