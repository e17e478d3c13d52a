// PgConnection's row-by-row read of parameterized SELECTs: libpq single-row mode, each row
// decoded into the column builders as it arrives, batches of bounded size (libpq 15 has no
// chunked-rows mode; COPY takes no parameters, and inlining them is not an option).
#include <exception>
#include <string>
#include <utility>

#include "drivers/postgresql/pg_connection.hpp"
#include "drivers/postgresql/pg_copy.hpp"
#include "drivers/postgresql/pg_delivery.hpp"
#include "drivers/postgresql/pg_error.hpp"
#include "drivers/postgresql/pg_interval.hpp"
#include "drivers/postgresql/pg_params.hpp"
#include "drivers/postgresql/pg_reader.hpp"
#include "drivers/postgresql/pg_results.hpp"

namespace dbpool::pg {
bool PgConnection::WantsRows(const std::string& sql, const Params& params,
                             bool streaming) const {
  if (copy_reads_ == CopyReads::kNever || !params.names.empty()) return false;
  // Without parameters, only when the pool asked for rows (else COPY took it, or refused).
  if (params.values.empty() && bulk_protocol_ != BulkProtocol::kRows) return false;
  if (!IsCopyCandidate(sql)) return false;
  if (streaming || copy_reads_ == CopyReads::kAlways) return true;
  // A statement that gave a small result before takes the one-round-trip regular path.
  return small_results_.empty() || small_results_.find(sql) == small_results_.end();
}

asio::awaitable<PgResult> PgConnection::PrepareDescribe(const std::string& sql,
                                                        const std::string& name, bool prepare,
                                                        int n_params, const unsigned int* types,
                                                        CancelToken* cancel) {
  BeforeSend(cancel);
  int sent = PQenterPipelineMode(conn_);
  if (sent && prepare) sent = PQsendPrepare(conn_, name.c_str(), sql.c_str(), n_params, types);
  if (sent) sent = PQsendDescribePrepared(conn_, name.c_str());
  if (sent) sent = PQpipelineSync(conn_);
  PipelineRun pipeline = co_await RunWithDeallocates(sent, 1, cancel);
  auto& queries = pipeline.segments.at(0);
  for (const auto& query : queries) {
    if (const PGresult* failed = FirstError(query)) {
      // A cached statement gone before its describe: nothing ran; outside a transaction
      // the caller takes the regular path (null result).
      if (!prepare && DetectPooler(failed)) {
        if (InTransaction()) throw PoolerError(failed, pipeline.cancel_sent);
        co_return PgResult();
      }
      throw StatementError(failed, pipeline.cancel_sent);
    }
  }
  const size_t describe = prepare ? 1 : 0;
  if (queries.size() != describe + 1 || queries[describe].size() != 1) {
    throw Broken(DbError(ErrorKind::kInternal, "unexpected describe results from " + endpoint_));
  }
  co_return std::move(queries[describe][0]);
}

asio::awaitable<PgConnection::CopyOutcome> PgConnection::RowQuery(
    const std::string& sql, const Params& params, CancelToken* cancel, int64_t batch_rows,
    BatchSink* sink, QueryResult* out) {
  PgParams bound(params);  // invalid parameters fail before anything is sent
  std::string name;        // "" = the unnamed statement
  std::string key;
  std::vector<ColumnPlan> plans;
  StatementCache::Entry* entry = nullptr;
  if (statements_.enabled()) {
    key = StatementCache::Key(sql, bound.types(), bound.count());
    entry = statements_.Find(key);
  }
  if (entry != nullptr && entry->has_plans) {
    name = entry->name;
    plans = entry->plans;
  } else {
    // A cached statement without plans (prepared by Execute or a batch) is only described.
    bool added = false;
    if (statements_.enabled()) {
      if (entry == nullptr) {
        entry = &statements_.Add(key, &pending_deallocate_);
        added = true;
      }
      name = entry->name;
    }
    const bool prepare = name.empty() || added;
    PgResult description;
    try {
      description =
          co_await PrepareDescribe(sql, name, prepare, bound.count(), bound.types(), cancel);
    } catch (...) {
      if (added) statements_.Erase(key, nullptr);  // not prepared
      throw;
    }
    // No columns, or a "$n" without its value: the regular path, which reports that as it
    // always did.
    if (!description || PQnfields(description.get()) == 0 ||
        PQnparams(description.get()) != bound.count()) {
      co_return CopyOutcome::kNotCopied;
    }
    co_await LoadTypes(description.get());
    plans = PlansOf(description.get());
    // LoadTypes runs unnamed statements only: the cache (and `key`'s entry) is unchanged.
    if (statements_.enabled() && (entry = statements_.Find(key)) != nullptr) {
      entry->columns.clear();
      for (int c = 0; c < PQnfields(description.get()); ++c) {
        entry->columns.emplace_back(PQftype(description.get(), c), PQfmod(description.get(), c));
      }
      entry->plans = plans;
      entry->has_plans = true;
    }
  }
  if (out != nullptr) out->schema = SchemaOf(plans);

  BeforeSend(cancel);
  const bool in_transaction = InTransaction();
  // Unnamed: sent whole again (LoadTypes may have replaced the unnamed statement).
  int sent = name.empty()
                 ? PQsendQueryParams(conn_, sql.c_str(), bound.count(), bound.types(),
                                     bound.values(), bound.lengths(), bound.formats(),
                                     kBinaryResults)
                 : PQsendQueryPrepared(conn_, name.c_str(), bound.count(), bound.values(),
                                       bound.lengths(), bound.formats(), kBinaryResults);
  if (!sent) {
    DbError error = ConnError(conn_, "could not send the statement to " + endpoint_);
    if (error.kind() == ErrorKind::kConnection) throw Broken(error);
    throw error;
  }
  if (!PQsetSingleRowMode(conn_)) {
    throw Broken(DbError(ErrorKind::kInternal, "could not enter single-row mode on " + endpoint_));
  }
  CancelGuard guard;
  ArmCancel(cancel, &guard, true);
  CopyOutcome outcome = CopyOutcome::kDone;
  std::exception_ptr error;
  try {
    co_await Flush();
    std::vector<RecordBatch>* batches = out != nullptr ? &out->batches : nullptr;
    outcome = co_await ReceiveRows(plans, guard, in_transaction, batch_rows, sink, batches);
  } catch (...) {
    error = std::current_exception();
  }
  bool cancel_sent = DisarmCancel(&guard);
  if (cancel_sent) co_await AwaitCancelSent(guard.request);
  ClearSingleRowMode();
  if (error) std::rethrow_exception(error);
  if (out != nullptr && outcome == CopyOutcome::kDone) {
    // The whole result is known: its values decide the interval columns' type.
    if (const IntervalColumns intervals(plans); intervals.any()) {
      out->schema = intervals.FinishWhole(out->batches);
    }
  }
  if (outcome == CopyOutcome::kNotCopied && statements_.enabled()) {
    // Stale (gone, or its columns changed): the regular path prepares it again. A
    // DEALLOCATE of one that is gone fails on its own Sync, harmlessly.
    statements_.Erase(key, &pending_deallocate_);
  }
  co_return outcome;
}

asio::awaitable<PgConnection::CopyOutcome> PgConnection::ReceiveRows(
    const std::vector<ColumnPlan>& plans, CancelGuard& guard, bool in_transaction,
    int64_t batch_rows, BatchSink* sink, std::vector<RecordBatch>* out) {
  std::exception_ptr stop_error;
  BatchDelivery delivery(plans, sink, out);
  try {
    co_await delivery.Start();
  } catch (...) {
    stop_error = std::current_exception();
  }
  if (stop_error) {
    co_await AbandonRows(guard, in_transaction);
    std::rethrow_exception(stop_error);
  }
  const int columns = static_cast<int>(plans.size());
  ValueBatches batches(plans, batch_rows);
  bool checked = false;
  bool stopped = false;
  for (;;) {
    // Inline rather than NextResult(): a coroutine call per row costs more than the row.
    while (PQisBusy(conn_)) {
      co_await WaitReadable();
      if (!PQconsumeInput(conn_)) throw LostConnection();
    }
    PgResult result(PQgetResult(conn_));
    if (!result) break;  // the statement is complete
    const PGresult* r = result.get();
    const ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_SINGLE_TUPLE) {
      if (!checked) {
        // The plans came from Describe; the rows must match them (a cached statement
        // whose columns changed fails with 0A000 before any row is sent).
        if (PQnfields(r) != columns) {
          throw Broken(DbError(ErrorKind::kInternal, "row description from " + endpoint_ +
                                                         " does not match the statement's"));
        }
        for (int c = 0; c < columns; ++c) {
          if (PQfformat(r, c) != 1) {
            throw Broken(DbError(ErrorKind::kInternal, "column '" + plans[c].field.name +
                                                           "' was not sent in binary format"));
          }
        }
        checked = true;
      }
      int c = 0;
      try {
        for (; c < columns; ++c) {
          // Only an empty value can be a null: one call less per value than asking first.
          const int size = PQgetlength(r, 0, c);
          if (size == 0 && PQgetisnull(r, 0, c)) {
            batches.AppendNull(static_cast<size_t>(c));
          } else {
            batches.Append(static_cast<size_t>(c), PQgetvalue(r, 0, c), size);
          }
        }
        batches.EndRow();
        if (batches.batch_full()) {
          RecordBatch batch = batches.TakeBatch();
          const int64_t first_row = batches.total_rows() - batch.num_rows();
          // Named, not `!co_await ...`: g++ 12 miscompiles that form (see Query).
          const bool more = co_await delivery.Deliver(std::move(batch), first_row);
          stopped = !more;
        }
      } catch (const DecodeError& e) {
        stop_error = std::make_exception_ptr(batches.Failure(static_cast<size_t>(c), e));
      } catch (...) {
        stop_error = std::current_exception();
      }
      if (stop_error || stopped) break;
      continue;
    }
    if (status == PGRES_TUPLES_OK) continue;  // the end of the rows; null follows
    if (IsErrorStatus(status)) {
      PgResult error(std::move(result));
      co_await AbandonRows(guard, true);  // only the statement's end is left: no cancel
      const bool pooler = batches.total_rows() == 0 && DetectPooler(error.get());
      if (batches.total_rows() == 0 && IsStaleStatement(error.get()) && !in_transaction) {
        co_return CopyOutcome::kNotCopied;
      }
      if (pooler) throw PoolerError(error.get(), CancelWasSent(guard));
      throw StatementError(error.get(), CancelWasSent(guard));
    }
    // A statement that turned out not to return rows: nothing to decode.
  }
  if (stopped || stop_error) {
    co_await AbandonRows(guard, in_transaction);
    if (stop_error) std::rethrow_exception(stop_error);
    co_return CopyOutcome::kStopped;
  }
  const int64_t first_row = batches.total_rows() - batches.pending_rows();
  RecordBatch last;
  if (batches.pending_rows() > 0) last = batches.TakeBatch();
  co_await delivery.Finish(std::move(last), first_row);
  co_return CopyOutcome::kDone;
}

void PgConnection::ClearSingleRowMode() {
  // libpq (15 to 17) keeps single-row mode set after the statement ended, and resets it only
  // when the next command is sent outside pipeline mode. A pipelined execute_batch whose
  // first statement is a query (an unnamed or already prepared one) would then get that
  // statement's rows one PGRES_SINGLE_TUPLE at a time, and read its result as empty.
  // PQsendQuery without a command resets that state (PQsendQueryStart) and, refusing the
  // null command, sends nothing.
  if (IsBroken() || PQpipelineStatus(conn_) != PQ_PIPELINE_OFF ||
      PQtransactionStatus(conn_) == PQTRANS_ACTIVE) {
    return;
  }
  (void)PQsendQuery(conn_, nullptr);
}

asio::awaitable<void> PgConnection::AbandonRows(CancelGuard& guard, bool in_transaction) {
  // Inside a transaction a cancel would abort it: read and discard the rest instead.
  if (!in_transaction) SendCancel(guard);
  // The rows left (dropped one by one, never collected), then 57014 from our cancel or
  // the end: only a lost session matters.
  for (;;) {
    while (PQisBusy(conn_)) {
      co_await WaitReadable();
      if (!PQconsumeInput(conn_)) throw LostConnection();
    }
    PgResult result(PQgetResult(conn_));
    if (!result) break;
  }
  if (IsBroken()) throw LostConnection();
}

}  // namespace dbpool::pg
