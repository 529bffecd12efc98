// SpecJBB-like: a server-side Java business workload modelled on SPECjbb2005 (the study's memory
// benchmark), written for virtbench. It is NOT SPECjbb: its score is not a SPECjbb result.
//
// Each warehouse is in-memory business data (10 districts, customers, orders, stock of a shared
// item catalogue) owned by one terminal thread that runs the five TPC-C-style transactions from a
// shuffled deck (10 new order, 10 payment, 1 order status, 1 delivery, 1 stock level). The run
// steps the warehouse count from 1 to --max-warehouses; each step repopulates, ramps up, then
// counts transactions over a fixed interval. Score: mean throughput (bops) over the steps from
// --expected-peak to 2x it, as SPECjbb2005 scores its points.
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

public final class SpecJbbLike {
  static final int DISTRICTS = 10;
  static int itemCount = 20_000;
  static int customersPerDistrict = 3_000;
  static int initialOrdersPerDistrict = 300;
  /** Orders kept per district; older delivered ones are dropped so the heap reaches a steady state. */
  static int retainedOrdersPerDistrict = 1_000;
  static final String[] SYLLABLES = {"BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"};
  static final int NEW_ORDER = 0, PAYMENT = 1, ORDER_STATUS = 2, DELIVERY = 3, STOCK_LEVEL = 4;
  static final String[] TX_NAMES = {"neworder", "payment", "orderstatus", "delivery", "stocklevel"};
  /** The deck: 10 new order, 10 payment, 1 order status, 1 delivery, 1 stock level. */
  static final int[] DECK;

  static {
    DECK = new int[23];
    int i = 0;
    for (int k = 0; k < 10; k++) DECK[i++] = NEW_ORDER;
    for (int k = 0; k < 10; k++) DECK[i++] = PAYMENT;
    DECK[i++] = ORDER_STATUS;
    DECK[i++] = DELIVERY;
    DECK[i] = STOCK_LEVEL;
  }

  static final class Item {
    final int id;
    final String name;
    final long priceCents;
    final String data;

    Item(int id, String name, long priceCents, String data) {
      this.id = id;
      this.name = name;
      this.priceCents = priceCents;
      this.data = data;
    }
  }

  static final class Stock {
    int quantity;
    long ytd;
    int orderCount;
    final String[] districtInfo = new String[DISTRICTS];
    final String data;

    Stock(Random r) {
      quantity = 10 + r.nextInt(91);
      for (int d = 0; d < DISTRICTS; d++) districtInfo[d] = text(r, 24, 24);
      data = r.nextInt(10) == 0 ? original(r, text(r, 26, 50)) : text(r, 26, 50);
    }
  }

  static final class Customer {
    final int id;
    final String first, middle, last, street, city, phone;
    final String credit;
    final long creditLimitCents;
    final double discount;
    long balanceCents = -1000;
    long ytdPaymentCents = 1000;
    int paymentCount = 1;
    int deliveryCount;
    String data;
    Order lastOrder;

    Customer(int id, Random r, String last) {
      this.id = id;
      first = text(r, 8, 16);
      middle = "OE";
      this.last = last;
      street = text(r, 10, 20);
      city = text(r, 10, 20);
      phone = digits(r, 16);
      credit = r.nextInt(10) == 0 ? "BC" : "GC";
      creditLimitCents = 5_000_000;
      discount = r.nextInt(5001) / 10000.0;
      data = text(r, 300, 500);
    }
  }

  static final class OrderLine {
    final int itemId;
    final int quantity;
    final long amountCents;
    final String distInfo;
    long deliveredAt;

    OrderLine(int itemId, int quantity, long amountCents, String distInfo) {
      this.itemId = itemId;
      this.quantity = quantity;
      this.amountCents = amountCents;
      this.distInfo = distInfo;
    }
  }

  static final class Order {
    final int id;
    final Customer customer;
    final long entered;
    final OrderLine[] lines;
    int carrier;

    Order(int id, Customer customer, long entered, OrderLine[] lines) {
      this.id = id;
      this.customer = customer;
      this.entered = entered;
      this.lines = lines;
    }
  }

  static final class History {
    final int customerId;
    final long amountCents;
    final String data;

    History(int customerId, long amountCents, String data) {
      this.customerId = customerId;
      this.amountCents = amountCents;
      this.data = data;
    }
  }

  static final class District {
    final int id;
    final String name;
    final double tax;
    long ytdCents = 3_000_000;
    int nextOrderId = 1;
    final Customer[] customers;
    final Map<String, List<Customer>> byLastName = new HashMap<>();
    final TreeMap<Integer, Order> orders = new TreeMap<>();
    final ArrayDeque<Order> newOrders = new ArrayDeque<>();

    District(int id, Random r) {
      this.id = id;
      name = text(r, 6, 10);
      tax = r.nextInt(2001) / 10000.0;
      customers = new Customer[customersPerDistrict];
      for (int c = 0; c < customersPerDistrict; c++) {
        String last = lastName(c < 1000 ? c : nurand(r, 255, 0, 999));
        Customer cu = new Customer(c + 1, r, last);
        customers[c] = cu;
        byLastName.computeIfAbsent(last, k -> new ArrayList<>()).add(cu);
      }
    }
  }

  static final class Warehouse {
    final int id;
    final String name;
    final double tax;
    long ytdCents = 30_000_000;
    final Stock[] stock;
    final District[] districts = new District[DISTRICTS];
    final History[] history = new History[4096];
    int historyNext;

    Warehouse(int id, Random r, Item[] items) {
      this.id = id;
      name = text(r, 6, 10);
      tax = r.nextInt(2001) / 10000.0;
      stock = new Stock[items.length];
      for (int i = 0; i < items.length; i++) stock[i] = new Stock(r);
      for (int d = 0; d < DISTRICTS; d++) districts[d] = new District(d + 1, r);
    }
  }

  // ---- random data helpers (TPC-C style) ----
  static final char[] ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".toCharArray();

  static String text(Random r, int min, int max) {
    int n = min + r.nextInt(max - min + 1);
    char[] c = new char[n];
    for (int i = 0; i < n; i++) c[i] = ALNUM[r.nextInt(ALNUM.length)];
    return new String(c);
  }

  static String digits(Random r, int n) {
    char[] c = new char[n];
    for (int i = 0; i < n; i++) c[i] = (char) ('0' + r.nextInt(10));
    return new String(c);
  }

  static String original(Random r, String s) {
    int at = r.nextInt(Math.max(1, s.length() - 8));
    return s.substring(0, at) + "ORIGINAL" + s.substring(Math.min(s.length(), at + 8));
  }

  static String lastName(int n) {
    return SYLLABLES[n / 100] + SYLLABLES[(n / 10) % 10] + SYLLABLES[n % 10];
  }

  static int nurand(Random r, int a, int x, int y) {
    return (((r.nextInt(a + 1) | (x + r.nextInt(y - x + 1))) + 7) % (y - x + 1)) + x;
  }

  static Item[] catalogue(long seed) {
    Random r = new Random(seed);
    Item[] items = new Item[itemCount];
    for (int i = 0; i < itemCount; i++) {
      String data = text(r, 26, 50);
      if (r.nextInt(10) == 0) data = original(r, data);
      items[i] = new Item(i + 1, text(r, 14, 24), 100 + r.nextInt(9901), data);
    }
    return items;
  }

  /** One terminal: owns one warehouse and runs the deck against it. */
  static final class Terminal implements Runnable {
    final Warehouse w;
    final Item[] items;
    final Random r;
    final AtomicBoolean stop;
    final CountDownLatch done;
    final long[] counts = new long[5];
    volatile long total;
    long clock;
    final StringBuilder screen = new StringBuilder(2048);

    Terminal(Warehouse w, Item[] items, long seed, AtomicBoolean stop, CountDownLatch done) {
      this.w = w;
      this.items = items;
      this.r = new Random(seed);
      this.stop = stop;
      this.done = done;
    }

    public void run() {
      int[] deck = DECK.clone();
      try {
        while (!stop.get()) {
          shuffle(deck);
          for (int i = 0; i < deck.length && !stop.get(); i++) {
            int t = deck[i];
            switch (t) {
              case NEW_ORDER -> newOrder();
              case PAYMENT -> payment();
              case ORDER_STATUS -> orderStatus();
              case DELIVERY -> delivery();
              default -> stockLevel();
            }
            counts[t]++;
            total++;
          }
        }
      } finally {
        done.countDown();
      }
    }

    void shuffle(int[] a) {
      for (int i = a.length - 1; i > 0; i--) {
        int j = r.nextInt(i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
      }
    }

    District district() {
      return w.districts[r.nextInt(DISTRICTS)];
    }

    Customer customerById(District d) {
      return d.customers[nurand(r, 1023, 1, customersPerDistrict) - 1];
    }

    Customer customerByName(District d) {
      List<Customer> same = d.byLastName.get(lastName(nurand(r, 255, 0, 999)));
      if (same == null || same.isEmpty()) return customerById(d);
      // the middle one, ordered by first name, as TPC-C asks
      Customer[] sorted = same.toArray(new Customer[0]);
      Arrays.sort(sorted, (a, b) -> a.first.compareTo(b.first));
      return sorted[(sorted.length - 1) / 2];
    }

    void newOrder() {
      District d = district();
      Customer c = customerById(d);
      int lines = 5 + r.nextInt(11);
      boolean rollback = r.nextInt(100) == 0;
      OrderLine[] ol = new OrderLine[lines];
      long total = 0;
      for (int i = 0; i < lines; i++) {
        int itemIdx = nurand(r, 8191, 1, itemCount) - 1;
        if (rollback && i == lines - 1) {
          screen.setLength(0);
          screen.append("Item number is not valid");
          return; // an unused item id: the order is abandoned, as in TPC-C
        }
        Item it = items[itemIdx];
        Stock s = w.stock[itemIdx];
        int qty = 1 + r.nextInt(10);
        s.quantity = s.quantity - qty >= 10 ? s.quantity - qty : s.quantity - qty + 91;
        s.ytd += qty;
        s.orderCount++;
        long amount = qty * it.priceCents;
        total += amount;
        ol[i] = new OrderLine(it.id, qty, amount, s.districtInfo[d.id - 1]);
      }
      Order o = new Order(d.nextOrderId++, c, ++clock, ol);
      d.orders.put(o.id, o);
      d.newOrders.addLast(o);
      c.lastOrder = o;
      long due = Math.round(total * (1 - c.discount) * (1 + w.tax + d.tax));
      trim(d);
      screen.setLength(0);
      screen.append("New Order  Warehouse ").append(w.id).append(" District ").append(d.id).append('\n');
      screen.append("Customer ").append(c.id).append(' ').append(c.last).append(' ').append(c.credit).append('\n');
      for (OrderLine l : ol) screen.append(l.itemId).append(' ').append(l.quantity).append(' ').append(l.amountCents).append('\n');
      screen.append("Total ").append(due);
    }

    void trim(District d) {
      while (d.orders.size() > retainedOrdersPerDistrict) {
        Map.Entry<Integer, Order> oldest = d.orders.firstEntry();
        if (oldest.getValue().carrier == 0) break; // never drop an undelivered order
        d.orders.pollFirstEntry();
      }
    }

    void payment() {
      District d = district();
      Customer c = r.nextInt(100) < 60 ? customerByName(d) : customerById(d);
      long amount = 100 + r.nextInt(500_000);
      w.ytdCents += amount;
      d.ytdCents += amount;
      c.balanceCents -= amount;
      c.ytdPaymentCents += amount;
      c.paymentCount++;
      if (c.credit.equals("BC")) {
        String entry = c.id + " " + d.id + " " + w.id + " " + amount + " | ";
        String data = entry + c.data;
        c.data = data.length() > 500 ? data.substring(0, 500) : data;
      }
      w.history[w.historyNext] = new History(c.id, amount, w.name + "    " + d.name);
      w.historyNext = (w.historyNext + 1) % w.history.length;
      screen.setLength(0);
      screen.append("Payment  Warehouse ").append(w.id).append(" District ").append(d.id).append('\n');
      screen.append("Customer ").append(c.id).append(' ').append(c.first).append(' ').append(c.last).append('\n');
      screen.append("Balance ").append(c.balanceCents).append(" Amount ").append(amount);
    }

    void orderStatus() {
      District d = district();
      Customer c = r.nextInt(100) < 60 ? customerByName(d) : customerById(d);
      Order o = c.lastOrder;
      screen.setLength(0);
      screen.append("Order Status  Customer ").append(c.id).append(' ').append(c.last).append(" Balance ").append(c.balanceCents).append('\n');
      if (o != null) {
        screen.append("Order ").append(o.id).append(" Carrier ").append(o.carrier).append('\n');
        for (OrderLine l : o.lines) screen.append(l.itemId).append(' ').append(l.quantity).append(' ').append(l.amountCents).append(' ').append(l.deliveredAt).append('\n');
      }
    }

    void delivery() {
      int carrier = 1 + r.nextInt(10);
      screen.setLength(0);
      screen.append("Delivery  Warehouse ").append(w.id).append(" Carrier ").append(carrier).append('\n');
      for (District d : w.districts) {
        Order o = d.newOrders.pollFirst();
        if (o == null) continue;
        o.carrier = carrier;
        long sum = 0;
        for (OrderLine l : o.lines) {
          l.deliveredAt = clock;
          sum += l.amountCents;
        }
        o.customer.balanceCents += sum;
        o.customer.deliveryCount++;
        screen.append("District ").append(d.id).append(" Order ").append(o.id).append('\n');
      }
    }

    void stockLevel() {
      District d = district();
      int threshold = 10 + r.nextInt(11);
      HashSet<Integer> low = new HashSet<>();
      int seen = 0;
      for (Order o : d.orders.descendingMap().values()) {
        if (++seen > 20) break;
        for (OrderLine l : o.lines) if (w.stock[l.itemId - 1].quantity < threshold) low.add(l.itemId);
      }
      screen.setLength(0);
      screen.append("Stock Level  Warehouse ").append(w.id).append(" District ").append(d.id).append(" Threshold ").append(threshold).append(" Low ").append(low.size());
    }
  }

  static void populateOrders(Warehouse w, Item[] items, Random r) {
    for (District d : w.districts) {
      for (int i = 0; i < initialOrdersPerDistrict; i++) {
        Customer c = d.customers[r.nextInt(d.customers.length)];
        int lines = 5 + r.nextInt(11);
        OrderLine[] ol = new OrderLine[lines];
        for (int k = 0; k < lines; k++) {
          int idx = r.nextInt(items.length);
          ol[k] = new OrderLine(items[idx].id, 5, 0, w.stock[idx].districtInfo[d.id - 1]);
        }
        Order o = new Order(d.nextOrderId++, c, 0, ol);
        d.orders.put(o.id, o);
        c.lastOrder = o;
        if (i >= initialOrdersPerDistrict * 7 / 10) d.newOrders.addLast(o);
        else o.carrier = 1 + r.nextInt(10);
      }
    }
  }

  static long arg(String[] args, String name, long def) {
    for (int i = 0; i < args.length - 1; i++) if (args[i].equals(name)) return Long.parseLong(args[i + 1]);
    return def;
  }

  /**
   * One point: populate n warehouses, start one terminal per warehouse, ramp up, count over the
   * interval. Returns {ops, nanos, neworder, payment, orderstatus, delivery, stocklevel, populateMs, heapUsedMiB}.
   */
  static long[] runStep(int n, Item[] items, long seed, long rampMs, long measureMs) throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    Random pr = new Random(seed + n);
    Warehouse[] ws = new Warehouse[n];
    long p0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      ws[i] = new Warehouse(i + 1, pr, items);
      populateOrders(ws[i], items, pr);
    }
    System.gc();
    long populateMs = (System.nanoTime() - p0) / 1_000_000;
    AtomicBoolean stop = new AtomicBoolean(false);
    CountDownLatch done = new CountDownLatch(n);
    Terminal[] ts = new Terminal[n];
    for (int i = 0; i < n; i++) {
      ts[i] = new Terminal(ws[i], items, seed * 31 + n * 1000L + i, stop, done);
      Thread th = new Thread(ts[i], "terminal-" + (i + 1));
      th.setDaemon(true);
      th.start();
    }
    Thread.sleep(rampMs);
    long[] before = new long[n];
    long[][] beforeCounts = new long[n][5];
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      before[i] = ts[i].total;
      beforeCounts[i] = ts[i].counts.clone();
    }
    Thread.sleep(measureMs);
    long[] out = new long[9];
    for (int i = 0; i < n; i++) {
      out[0] += ts[i].total - before[i];
      long[] now = ts[i].counts.clone();
      for (int k = 0; k < 5; k++) out[2 + k] += now[k] - beforeCounts[i][k];
    }
    out[1] = System.nanoTime() - t0;
    stop.set(true);
    done.await();
    out[7] = populateMs;
    out[8] = (rt.totalMemory() - rt.freeMemory()) >> 20;
    return out;
  }

  public static void main(String[] args) throws Exception {
    int maxWarehouses = (int) arg(args, "--max-warehouses", 2);
    int expectedPeak = (int) arg(args, "--expected-peak", 1);
    long rampMs = arg(args, "--ramp-ms", 2000);
    long measureMs = arg(args, "--measure-ms", 5000);
    long warmupMs = arg(args, "--warmup-ms", 0);
    long seed = arg(args, "--seed", 42);
    itemCount = (int) arg(args, "--items", itemCount);
    customersPerDistrict = (int) arg(args, "--customers", customersPerDistrict);
    if (maxWarehouses < 1 || expectedPeak < 1 || rampMs < 0 || warmupMs < 0 || measureMs < 1 || itemCount < 100 || customersPerDistrict < 10) {
      System.err.println("specjbb-like: bad arguments");
      System.exit(2);
    }
    Runtime rt = Runtime.getRuntime();
    System.out.printf("specjbb-like: warehouses 1..%d, expected peak %d, ramp-up %d ms, measurement %d ms, max heap %d MiB, processors %d, java %s%n",
        maxWarehouses, expectedPeak, rampMs, measureMs, rt.maxMemory() >> 20, rt.availableProcessors(), System.getProperty("java.version"));
    Item[] items = catalogue(seed);
    // JIT warm-up, not measured: without it the first step measures the compiler, not the machine
    if (warmupMs > 0) {
      long[] w = runStep(1, items, seed - 1, 0, warmupMs);
      System.out.printf("warmup warehouses=1 ops=%d ms=%d%n", w[0], warmupMs);
    }
    double scoreSum = 0;
    int scorePoints = 0;
    for (int n = 1; n <= maxWarehouses; n++) {
      long[] r = runStep(n, items, seed, rampMs, measureMs);
      long ops = r[0];
      double seconds = r[1] / 1e9;
      double bops = ops / seconds;
      StringBuilder line = new StringBuilder();
      line.append(String.format("step warehouses=%d ops=%d seconds=%.3f bops=%.1f populate_ms=%d", n, ops, seconds, bops, r[7]));
      for (int k = 0; k < 5; k++) line.append(' ').append(TX_NAMES[k]).append('=').append(r[2 + k]);
      line.append(String.format(" heap_used_mib=%d", r[8]));
      System.out.println(line);
      System.out.flush();
      if (n >= expectedPeak && n <= 2 * expectedPeak) {
        scoreSum += bops;
        scorePoints++;
      }
    }
    System.out.printf("score bops=%.1f points=%d warehouses=%d..%d%n", scorePoints > 0 ? scoreSum / scorePoints : 0.0, scorePoints, expectedPeak, Math.min(maxWarehouses, 2 * expectedPeak));
  }
}
