// The dashboard's analytics documents, here rather than in its views so that the server can prepare them at start
// (src/http/warm-up.ts): a document's first use (parse, validate, compile) costs more than a dozen answers after it.
export const ANALYTICS_QUESTIONS_QUERY = '{ analytics { questions { text direction } } }';

export const ANALYTICS_ANSWER_QUERY = `query($question: String!, $yearFrom: Int, $yearTo: Int) { analytics {
  statesMean(question: $question, yearFrom: $yearFrom, yearTo: $yearTo) { state value }
  best5(question: $question, yearFrom: $yearFrom, yearTo: $yearTo) { state value }
  worst5(question: $question, yearFrom: $yearFrom, yearTo: $yearTo) { state value }
  globalMean(question: $question, yearFrom: $yearFrom, yearTo: $yearTo)
} }`;
