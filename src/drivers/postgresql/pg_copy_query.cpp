// PgConnection's bulk read path: COPY (query) TO STDOUT (FORMAT binary), decoded into Arrow as it arrives.
#include "drivers/postgresql/pg_connection.hpp"

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "drivers/postgresql/pg_copy.hpp"
#include "drivers/postgresql/pg_delivery.hpp"
#include "drivers/postgresql/pg_error.hpp"
#include "drivers/postgresql/pg_interval.hpp"
#include "drivers/postgresql/pg_params.hpp"
#include "drivers/postgresql/pg_reader.hpp"
#include "drivers/postgresql/pg_results.hpp"

namespace dbpool::pg {

bool PgConnection::WantsCopy(const std::string& sql, const Params& params, bool streaming) const {
  if (copy_reads_ == CopyReads::kNever || !params.values.empty() || !params.names.empty()) {
    return false;
  }
  if (bulk_protocol_ == BulkProtocol::kRows && copy_reads_ != CopyReads::kAlways) return false;
  if (!IsCopyCandidate(sql)) return false;
  if (streaming || copy_reads_ == CopyReads::kAlways) return true;
  return small_results_.empty() || small_results_.find(sql) == small_results_.end();
}

asio::awaitable<PgResult> PgConnection::Describe(const std::string& sql, CancelToken* cancel) {
  BeforeSend(cancel);
  int sent = PQenterPipelineMode(conn_);
  if (sent) sent = PQsendPrepare(conn_, "", sql.c_str(), 0, nullptr);
  if (sent) sent = PQsendDescribePrepared(conn_, "");
  if (sent) sent = PQpipelineSync(conn_);
  PipelineRun pipeline = co_await RunPipeline(sent, 1, cancel);
  auto& queries = pipeline.segments.at(0);
  for (const auto& query : queries) {
    if (const PGresult* failed = FirstError(query)) {
      throw StatementError(failed, pipeline.cancel_sent);
    }
  }
  if (queries.size() != 2 || queries[1].size() != 1) {
    throw Broken(DbError(ErrorKind::kInternal, "unexpected describe results from " + endpoint_));
  }
  co_return std::move(queries[1][0]);
}

asio::awaitable<PgConnection::CopyOutcome> PgConnection::CopyQuery(const std::string& sql,
                                                                   CancelToken* cancel,
                                                                   int64_t batch_rows,
                                                                   BatchSink* sink,
                                                                   QueryResult* out) {
  PgResult description = co_await Describe(sql, cancel);
  // No columns: no rows to copy (SELECT INTO, which COPY refuses, or a zero-column SELECT).
  // Parameters: "$1" without a value, which the regular path reports as it always did.
  if (PQnfields(description.get()) == 0 || PQnparams(description.get()) > 0) {
    co_return CopyOutcome::kNotCopied;
  }
  co_await LoadTypes(description.get());
  std::vector<ColumnPlan> plans = PlansOf(description.get());
  description.reset();
  if (out != nullptr) out->schema = SchemaOf(plans);
  const IntervalColumns intervals(plans);
  std::vector<RecordBatch>* batches = out != nullptr ? &out->batches : nullptr;
  CopyOutcome outcome =
      co_await RunCopy(sql, std::move(plans), cancel, batch_rows, sink, batches);
  // The whole result is known: its values decide the interval columns' type.
  if (out != nullptr && outcome == CopyOutcome::kDone && intervals.any()) {
    out->schema = intervals.FinishWhole(out->batches);
  }
  co_return outcome;
}

asio::awaitable<PgConnection::CopyOutcome> PgConnection::RunCopy(
    const std::string& sql, std::vector<ColumnPlan> plans, CancelToken* cancel,
    int64_t batch_rows, BatchSink* sink, std::vector<RecordBatch>* out) {
  const std::string copy = CopyStatement(sql);
  CopyDecoder decoder(std::move(plans), batch_rows);
  BeforeSend(cancel);
  // Read now: while the COPY runs libpq says PQTRANS_ACTIVE, whether in a transaction or not.
  const bool in_transaction = InTransaction();
  // The extended protocol (no parameters) accepts one statement only, whatever `sql` holds.
  int sent = PQsendQueryParams(conn_, copy.c_str(), 0, nullptr, nullptr, nullptr, nullptr,
                               kBinaryResults);
  if (!sent) {
    DbError error = ConnError(conn_, "could not send the statement to " + endpoint_);
    if (error.kind() == ErrorKind::kConnection) throw Broken(error);
    throw error;
  }
  CancelGuard guard;
  ArmCancel(cancel, &guard, true);
  CopyOutcome outcome = CopyOutcome::kDone;
  std::exception_ptr error;
  try {
    co_await Flush();
    outcome = co_await ReceiveCopy(decoder, guard, in_transaction, sink, out);
  } catch (...) {
    error = std::current_exception();
  }
  bool cancel_sent = DisarmCancel(&guard);
  if (cancel_sent) co_await AwaitCancelSent(guard.request);
  if (error) std::rethrow_exception(error);
  co_return outcome;
}

asio::awaitable<PgResult> PgConnection::NextResult() {
  while (PQisBusy(conn_)) {
    co_await WaitReadable();
    if (!PQconsumeInput(conn_)) {
      throw LostConnection();
    }
  }
  co_return PgResult(PQgetResult(conn_));
}

asio::awaitable<PgConnection::CopyOutcome> PgConnection::ReceiveCopy(
    CopyDecoder& decoder, CancelGuard& guard, bool in_transaction, BatchSink* sink,
    std::vector<RecordBatch>* out) {
  // The first answer: CopyOutResponse, or an error from parsing or planning the COPY.
  PgResult first = co_await NextResult();
  ExecStatusType status = first ? PQresultStatus(first.get()) : PGRES_EMPTY_QUERY;
  if (status != PGRES_COPY_OUT) {
    std::vector<PgResult> rest = co_await CollectResults();  // to the statement's end
    if (first && IsErrorStatus(status)) {
      // Nothing has run; outside a transaction the regular path can take the statement
      // (inside one, the error has aborted the transaction: report it).
      if (IsCopyRejection(first.get()) && !in_transaction) co_return CopyOutcome::kNotCopied;
      throw StatementError(first.get(), CancelWasSent(guard));
    }
    throw Broken(DbError(ErrorKind::kInternal, std::string("COPY did not start: ") +
                                                   PQresStatus(status)));
  }
  first.reset();
  std::exception_ptr stop_error;
  BatchDelivery delivery(decoder.plans(), sink, out);
  try {
    co_await delivery.Start();
  } catch (...) {
    stop_error = std::current_exception();
  }

  // The rows: one CopyData message each, decoded straight into the builders. When libpq
  // holds no complete row, read what the socket has, and wait only when that was nothing.
  bool stopped = false;
  bool consumed = false;
  int n = 0;
  while (!stop_error) {
    char* row = nullptr;
    n = PQgetCopyData(conn_, &row, 1);
    if (n > 0) {
      consumed = false;
      try {
        decoder.Feed(row, n);
        // Invalid text surfaces in TakeBatch, which checks a batch's text in one pass.
        if (decoder.batch_full()) {
          RecordBatch batch = decoder.TakeBatch();
          const int64_t first_row = decoder.total_rows() - batch.num_rows();
          // Named, not `!co_await ...`: g++ 12 miscompiles that form (see Query).
          const bool more = co_await delivery.Deliver(std::move(batch), first_row);
          stopped = !more;
        }
      } catch (...) {
        stop_error = std::current_exception();
      }
      PQfreemem(row);
      if (stop_error || stopped) break;
      continue;
    }
    if (n == 0) {
      if (consumed) co_await WaitReadable();
      if (!PQconsumeInput(conn_)) {
        throw LostConnection();
      }
      consumed = true;
      continue;
    }
    break;  // -1: the data is over, the COPY's result follows; -2: an error, likewise
  }
  if (stopped || stop_error) {
    co_await AbandonCopy(guard, n, in_transaction);
    if (stop_error) std::rethrow_exception(stop_error);
    co_return CopyOutcome::kStopped;
  }

  // The COPY's own result: "COPY n", or the error that ended it.
  std::vector<PgResult> results = co_await CollectResults();
  if (const PGresult* failed = FirstError(results)) {
    throw StatementError(failed, CancelWasSent(guard));
  }
  if (!decoder.ended()) {
    throw DbError(ErrorKind::kInternal, "binary COPY data from " + endpoint_ +
                                            " ended without its trailer");
  }
  const int64_t first_row = decoder.total_rows() - decoder.pending_rows();
  RecordBatch last;
  if (decoder.pending_rows() > 0) last = decoder.TakeBatch();
  co_await delivery.Finish(std::move(last), first_row);
  co_return CopyOutcome::kDone;
}

asio::awaitable<void> PgConnection::AbandonCopy(CancelGuard& guard, int last,
                                               bool in_transaction) {
  int n = last;
  if (n >= 0) {
    // What libpq and the socket already hold may be the whole rest (a small result):
    // then no cancel is needed, and none is sent.
    for (int pass = 0; pass < 2 && n >= 0; ++pass) {
      do {
        char* row = nullptr;
        n = PQgetCopyData(conn_, &row, 1);
        if (row != nullptr) PQfreemem(row);
      } while (n > 0);
      if (n == 0 && pass == 0 && !PQconsumeInput(conn_)) {
        throw LostConnection();
      }
    }
  }
  if (n >= 0) {
    // Inside a transaction a cancel would abort it: read and discard the rest instead.
    if (!in_transaction) SendCancel(guard);
    co_await SkipCopyOut();
  }
  // "COPY n", or 57014 from our cancel, or whatever error ended it: the rows were not
  // wanted, so only a lost session matters.
  std::vector<PgResult> results = co_await CollectResults();
  if (IsBroken()) throw LostConnection();
}

}  // namespace dbpool::pg
