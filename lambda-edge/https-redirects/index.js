// CloudFront Function (cloudfront-js-2.0), viewer response, on a subdomain
// gateway. kubo answers https://<domain>/ipfs/<cid>/ with a redirect to
// http://<cid>.ipfs.<domain>/: behind CloudFront and the ALB it only ever
// sees http. The viewer came over HTTPS and CloudFront serves every name
// under the gateway's domain over HTTPS, so the redirect keeps the scheme.
// Redirects anywhere else are left alone. The edge construct replaces the
// domain below with the configured one.
var gatewayDomain = "gateway.example";

function handler(event) {
  var response = event.response;
  var location = response.headers.location;
  if (!location || location.value.slice(0, 7).toLowerCase() !== 'http://') {
    return response;
  }
  var rest = location.value.slice(7);
  var end = rest.search(/[\/?#]/);
  var host = (end < 0 ? rest : rest.slice(0, end)).toLowerCase();
  var colon = host.lastIndexOf(':');
  if (colon >= 0) {
    host = host.slice(0, colon);
  }
  var suffix = '.' + gatewayDomain;
  if (host === gatewayDomain || (host.length > suffix.length && host.slice(-suffix.length) === suffix)) {
    location.value = 'https://' + rest;
  }
  return response;
}
