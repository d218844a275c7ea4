// config.js: where the wxauth API lives (the HTTP API URL that `sam deploy` prints).
// Add its host to the "request" and "uploadFile" legal domains of the mini program.
module.exports = {
  apiBase: 'https://your-api-id.execute-api.ap-east-1.amazonaws.com'
};
