/** SPEC section 3: the help article's flows, as curl sends them (form bodies), against the local gateway. */
import { call, unique } from '../support/api-client.js';

describe('the help article flows', () => {
  const account = `Sterling Cooper ${unique()}`;
  const email = `${unique('don')}@sterlingcooper.com`;

  it('creates an account from a form body and stores every extra field', async () => {
    const response = await call('POST', '/models/account/records', { form: `name=${encodeURIComponent(account)}&size=50-100` });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ model: 'account', id: account, version: 1, fields: { name: account, size: '50-100' } });
    expect(response.headers.get('etag')).toBe('"1"');
  });

  it('creates a customer linked to that account', async () => {
    const response = await call('POST', '/models/customer/records', {
      form: { email, account, title: 'Creative Director' },
    });
    expect(response.status).toBe(201);
    expect(response.body.fields).toEqual({ email, account, title: 'Creative Director' });
    expect(response.body.links).toEqual({ account: { id: account, exists: true } });
  });

  it('updates by posting to the same endpoint: the payload is merged, taking precedence', async () => {
    const response = await call('POST', '/models/account/records', { form: { name: account, size: '100-500', industry: 'Advertising' } });
    expect(response.status).toBe(200);
    expect(response.body.version).toBe(2);
    expect(response.body.fields).toEqual({ name: account, size: '100-500', industry: 'Advertising' });
  });

  it('deletes the account by its URL-encoded unique field', async () => {
    const response = await call('DELETE', `/models/account/records/${encodeURIComponent(account)}`);
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    expect((await call('GET', `/models/account/records/${encodeURIComponent(account)}`)).status).toBe(404);
  });

  it('leaves the customer pointing at the missing account', async () => {
    const response = await call('GET', `/models/customer/records/${encodeURIComponent(email)}`);
    expect(response.status).toBe(200);
    expect(response.body.links).toEqual({ account: { id: account, exists: false } });
  });
});
