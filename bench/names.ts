// Synthetic identities: "First Last <e-mail>" user IDs from name lists with non-ASCII and non-Latin names,
// e-mail addresses at a few example domains. Deterministic for a key's index.
import { pick, seededRandom, seedOf, type Random } from './random.js';

// "Display|ascii" where the e-mail spelling is not the accent-stripped display name.
const FIRST_NAMES = [
  'Aaliyah',
  'Abdul',
  'Adam',
  'Adrián',
  'Agnieszka',
  'Ahmed',
  'Aiko',
  'Aino',
  'Akira',
  'Alejandro',
  'Aleksandra',
  'Alexei',
  'Alice',
  'Amélie',
  'Amir',
  'Ana',
  'Anders',
  'André',
  'Andrea',
  'Andrzej',
  'Anja',
  'Anna',
  'Antoine',
  'Arjun',
  'Astrid',
  'Ayşe|ayse',
  'Barbara',
  'Bartosz',
  'Beatriz',
  'Benedikt',
  'Björn',
  'Bogdan',
  'Camille',
  'Carlos',
  'Carmen',
  'Chen',
  'Chidi',
  'Chloé',
  'Christian',
  'Clara',
  'Daniel',
  'Daniela',
  'David',
  'Dmitri',
  'Dominik',
  'Dorota',
  'Eero',
  'Elena',
  'Elif',
  'Elisa',
  'Emeka',
  'Emil',
  'Emma',
  'Enzo',
  'Eszter',
  'Fatima',
  'Felipe',
  'Florian',
  'François|francois',
  'Frida',
  'Gabriel',
  'Giulia',
  'Grzegorz',
  'Guðrún|gudrun',
  'Hannah',
  'Hans',
  'Haruto',
  'Helena',
  'Hiroshi',
  'Ines',
  'Ingrid',
  'Ivan',
  'Jakub',
  'Jan',
  'Javier',
  'Jean',
  'Jesús',
  'Jiří',
  'João',
  'Jonas',
  'Jörg',
  'José',
  'Julia',
  'Juliette',
  'Jürgen',
  'Kai',
  'Karin',
  'Katarzyna',
  'Kenji',
  'Kwame',
  'Lars',
  'Laura',
  'Léa',
  'Lena',
  'Leon',
  'Liam',
  'Lin',
  'Lucas',
  'Lucía',
  'Łukasz|lukasz',
  'Maja',
  'Małgorzata|malgorzata',
  'Manuel',
  'Marco',
  'María',
  'Marie',
  'Marta',
  'Martin',
  'Mateo',
  'Matthias',
  'Mehmet',
  'Mei',
  'Michał|michal',
  'Miguel',
  'Mikko',
  'Ming',
  'Mohammed',
  'Nadia',
  'Nikolai',
  'Noah',
  'Noémie',
  'Nour',
  'Olga',
  'Oliver',
  'Olivia',
  'Omar',
  'Oskar',
  'Paolo',
  'Patricia',
  'Paul',
  'Pedro',
  'Peter',
  'Petra',
  'Pierre',
  'Priya',
  'Rafael',
  'Rahul',
  'Raquel',
  'Rasmus',
  'René',
  'Ricardo',
  'Rita',
  'Roberto',
  'Rui',
  'Ryo',
  'Sakura',
  'Samuel',
  'Sara',
  'Sebastian',
  'Sergei',
  'Siddharth',
  'Sigrid',
  'Simone',
  'Sofía',
  'Søren|soren',
  'Stefan',
  'Sven',
  'Takeshi',
  'Tatiana',
  'Thomas',
  'Tiago',
  'Timo',
  'Tomás',
  'Ulrike',
  'Valentina',
  'Vera',
  'Víctor',
  'Wei',
  'Wojciech',
  'Xavier',
  'Yara',
  'Yasmin',
  'Yuki',
  'Yusuf',
  'Zainab',
  'Zoë',
  'Zsófia',
  'Дмитрий|dmitry',
  'Анна|anna',
  'Νίκος|nikos',
  'Ελένη|eleni',
  '陈|chen',
  '美咲|misaki',
  'محمد|mohamed',
  'Σοφία|sofia',
];

const LAST_NAMES = [
  'Abe',
  'Adeyemi',
  'Ahmed',
  'Almeida',
  'Álvarez',
  'Andersen',
  'Andersson',
  'Bauer',
  'Becker',
  'Bernard',
  'Bianchi',
  'Bjørnstad|bjornstad',
  'Blanc',
  'Böhm',
  'Brown',
  'Castro',
  'Çelik|celik',
  'Chen',
  'Costa',
  'Cruz',
  'Dąbrowski|dabrowski',
  'da Silva',
  'de Jong',
  'de Vries',
  'Demir',
  'Dubois',
  'Dvořák',
  'Eriksson',
  'Esposito',
  'Fernández',
  'Ferreira',
  'Fischer',
  'Fontaine',
  'García',
  'Gomes',
  'González',
  'Gruber',
  'Gupta',
  'Haddad',
  'Hansen',
  'Hartmann',
  'Hernández',
  'Hoffmann',
  'Horváth',
  'Huber',
  'Ivanov',
  'Ivanova',
  'Jansen',
  'Jensen',
  'Johansson',
  'Jones',
  'Kaya',
  'Keller',
  'Khan',
  'Kim',
  'Klein',
  'Koch',
  'Kovačević',
  'Kowalczyk',
  'Kowalski',
  'Kozlov',
  'Krause',
  'Kumar',
  'Lambert',
  'Larsen',
  'Laurent',
  'Lee',
  'Lehmann',
  'Leroy',
  'Lewandowski',
  'Li',
  'Lindqvist',
  'Liu',
  'López',
  'Lund',
  'Ma',
  'Martin',
  'Martínez',
  'Meier',
  'Mendes',
  'Meyer',
  'Moreau',
  'Morales',
  'Moreno',
  'Müller',
  'Murphy',
  'Nagy',
  'Nakamura',
  'Neumann',
  'Nguyen',
  'Nielsen',
  'Nikolić',
  'Novák',
  'Nowak',
  'Okafor',
  'Oliveira',
  'Olsen',
  'Öztürk',
  'Papadopoulos',
  'Park',
  'Patel',
  'Pereira',
  'Petrov',
  'Popescu',
  'Quispe',
  'Ramírez',
  'Reddy',
  'Ribeiro',
  'Richter',
  'Romano',
  'Rossi',
  'Ruiz',
  'Russo',
  'Saito',
  'Sánchez',
  'Santos',
  'Sato',
  'Schäfer',
  'Schmidt',
  'Schmitz',
  'Schneider',
  'Schulz',
  'Schwarz',
  'Shah',
  'Silva',
  'Singh',
  'Smirnov',
  'Smith',
  'Sousa',
  'Suzuki',
  'Svensson',
  'Szabó',
  'Tanaka',
  'Tran',
  'Uçar',
  'van den Berg',
  'van Dijk',
  'Vargas',
  'Vernooĳ',
  'Virtanen',
  'Vogel',
  'Wagner',
  'Walker',
  'Wang',
  'Watanabe',
  'Weber',
  'Wiśniewski',
  'Wójcik|wojcik',
  'Wolf',
  'Wong',
  'Wright',
  'Wu',
  'Yamamoto',
  'Yılmaz|yilmaz',
  'Zhang',
  'Zhou',
  'Zieliński',
  'Zimmermann',
  'Иванов|ivanov',
  'Смирнова|smirnova',
  'Παπαδόπουλος|papadopoulos',
  '王|wang',
  '佐藤|sato',
  'حداد|haddad',
];

const DOMAINS = ['example.org', 'example.com', 'example.net', 'mail.example.org', 'dev.example.com', 'lists.example.net', 'uni.example.edu'];
const COMMENTS = ['work', 'personal', 'code signing', 'release key', 'Debian', 'laptop'];

interface Name {
  display: string;
  ascii: string;
}

function name(entry: string): Name {
  const [display, ascii] = entry.split('|') as [string, string | undefined];
  return { display, ascii: ascii ?? toAscii(display) };
}

/** Accents stripped and a few letters spelt out, lower case, letters, digits, dots and hyphens only. */
export function toAscii(text: string): string {
  const spelled = text
    .replace(/ß/g, 'ss')
    .replace(/[Øø]/g, 'o')
    .replace(/[Ææ]/g, 'ae')
    .replace(/[Łł]/g, 'l')
    .replace(/[Đđ]/g, 'd')
    .replace(/ı/g, 'i')
    .replace(/[Œœ]/g, 'oe')
    .replace(/[Þþ]/g, 'th')
    .replace(/ĳ/g, 'ij');
  return spelled
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '');
}

function email(random: Random, first: Name, last: Name, index: number): string {
  const tag = index.toString(36);
  const local = pick(random, [
    `${first.ascii}.${last.ascii}${tag}`,
    `${first.ascii.slice(0, 1)}${last.ascii}${tag}`,
    `${first.ascii}${tag}`,
    `${last.ascii}.${tag}`,
  ]);
  return `${local}@${pick(random, DOMAINS)}`;
}

export interface Identity {
  name?: string;
  email?: string;
  comment?: string;
}

/**
 * The user IDs of synthetic key `index` of a pool: one (75%), two (20%) or three, of one person, with the
 * key's index in the e-mail address so that addresses are unique (as real ones mostly are).
 */
export function identitiesOf(pool: string, index: number): Identity[] {
  const random = seededRandom(seedOf(`${pool}:${index}`));
  const first = name(pick(random, FIRST_NAMES));
  const last = name(pick(random, LAST_NAMES));
  const display = `${first.display} ${last.display}`;
  const r = random();
  const count = r < 0.75 ? 1 : r < 0.95 ? 2 : 3;
  const ids: Identity[] = [];
  for (let i = 0; i < count; i++) {
    const id: Identity = { name: display, email: email(random, first, last, index * 3 + i) };
    if (random() < 0.1) id.comment = pick(random, COMMENTS);
    if (i === 0 && random() < 0.02) delete id.email; // a name alone
    ids.push(id);
  }
  return ids;
}

/** The user ID text openpgp.js writes for an identity: "Name (comment) <email>". */
export function userIdText(id: Identity): string {
  const parts: string[] = [];
  if (id.name) parts.push(id.name);
  if (id.comment) parts.push(`(${id.comment})`);
  if (id.email) parts.push(`<${id.email}>`);
  return parts.join(' ');
}

/** When synthetic key `index` was made (2012 to 2026), and its validity in seconds (0 = none; 30% expire). */
export function datesOf(pool: string, index: number): { created: Date; validSeconds: number } {
  const random = seededRandom(seedOf(`${pool}:dates:${index}`));
  const from = Date.UTC(2012, 0, 1);
  const to = Date.UTC(2026, 0, 1);
  const created = new Date(Math.floor((from + random() * (to - from)) / 1000) * 1000);
  const validSeconds = random() < 0.3 ? Math.floor((1 + random() * 4) * 365 * 86400) : 0;
  return { created, validSeconds };
}
