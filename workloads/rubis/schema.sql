-- The auction site's tables, modelled on RUBiS 1.4.3's MySQL schema (InnoDB, no foreign keys:
-- the pages keep the references consistent). category_id indexes (category, end_date) because
-- the search pages ask for a category's items that have not ended yet.
CREATE TABLE categories (
  id   INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(50)
);
CREATE TABLE regions (
  id   INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(25)
);
CREATE TABLE users (
  id            INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  firstname     VARCHAR(20),
  lastname      VARCHAR(20),
  nickname      VARCHAR(20) NOT NULL,
  password      VARCHAR(20) NOT NULL,
  email         VARCHAR(50) NOT NULL,
  rating        INT,
  balance       FLOAT,
  creation_date DATETIME,
  region        INT UNSIGNED NOT NULL,
  UNIQUE KEY nickname (nickname),
  KEY auth (nickname, password),
  KEY region_id (region)
);
CREATE TABLE items (
  id            INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name          VARCHAR(100),
  description   TEXT,
  initial_price FLOAT UNSIGNED NOT NULL,
  quantity      INT UNSIGNED NOT NULL,
  reserve_price FLOAT UNSIGNED DEFAULT 0,
  buy_now       FLOAT UNSIGNED DEFAULT 0,
  nb_of_bids    INT UNSIGNED DEFAULT 0,
  max_bid       FLOAT UNSIGNED DEFAULT 0,
  start_date    DATETIME,
  end_date      DATETIME,
  seller        INT UNSIGNED NOT NULL,
  category      INT UNSIGNED NOT NULL,
  KEY seller_id (seller),
  KEY category_id (category, end_date)
);
CREATE TABLE old_items LIKE items;
CREATE TABLE bids (
  id      INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id INT UNSIGNED NOT NULL,
  item_id INT UNSIGNED NOT NULL,
  qty     INT UNSIGNED NOT NULL,
  bid     FLOAT UNSIGNED NOT NULL,
  max_bid FLOAT UNSIGNED NOT NULL,
  date    DATETIME,
  KEY item (item_id),
  KEY user (user_id)
);
CREATE TABLE comments (
  id           INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  from_user_id INT UNSIGNED NOT NULL,
  to_user_id   INT UNSIGNED NOT NULL,
  item_id      INT UNSIGNED NOT NULL,
  rating       INT,
  date         DATETIME,
  comment      TEXT,
  KEY from_user (from_user_id),
  KEY to_user (to_user_id),
  KEY item (item_id)
);
CREATE TABLE buy_now (
  id       INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  buyer_id INT UNSIGNED NOT NULL,
  item_id  INT UNSIGNED NOT NULL,
  qty      INT UNSIGNED NOT NULL,
  date     DATETIME,
  KEY buyer (buyer_id),
  KEY item (item_id)
);
-- One row of counters (RUBiS keeps the number of rows of each table here).
CREATE TABLE ids (
  id       INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  category INT UNSIGNED NOT NULL,
  region   INT UNSIGNED NOT NULL,
  users    INT UNSIGNED NOT NULL,
  item     INT UNSIGNED NOT NULL,
  comment  INT UNSIGNED NOT NULL,
  bid      INT UNSIGNED NOT NULL,
  buyNow   INT UNSIGNED NOT NULL
);
