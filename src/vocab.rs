//! pt_BR vocabulary: the system category tree with its merchants and amount shapes, cities,
//! custom category names and insight texts. Names of people come from `fake`'s pt_BR locale.
//!
//! Merchant lists are ordered by popularity: the generator draws them with a Zipf law, so the
//! first few take most of the volume, as they do in real card statements.

use fake::locales::{Data, PT_BR};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Expense,
    Income,
    Transfer,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Expense => "expense",
            Kind::Income => "income",
            Kind::Transfer => "transfer",
        }
    }
}

/// How a subcategory recurs, when it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recur {
    No,
    /// Monthly on a fixed day, with a fixed amount per context (rent, subscriptions).
    Monthly,
    /// The owner's salary: monthly, on payday, the owner's monthly income.
    Salary,
}

pub struct Sub {
    pub name: &'static str,
    /// Median amount in cents; amounts are lognormal around it.
    pub median_cents: i64,
    /// Lognormal sigma: the length of the right tail.
    pub sigma: f64,
    /// Relative frequency among the non-recurring transactions of a context.
    pub weight: u32,
    pub recur: Recur,
    /// Merchants, most popular first.
    pub merchants: &'static [&'static str],
    /// What people type by hand for this kind of spending.
    pub phrases: &'static [&'static str],
}

pub struct Top {
    pub name: &'static str,
    pub kind: Kind,
    pub icon: &'static str,
    pub color: &'static str,
    pub subs: &'static [Sub],
    /// Names people give their own categories under this one.
    pub custom: &'static [&'static str],
}

macro_rules! sub {
    ($name:expr, $median:expr, $sigma:expr, $weight:expr, $recur:expr, [$($m:expr),* $(,)?], [$($p:expr),* $(,)?]) => {
        Sub { name: $name, median_cents: $median, sigma: $sigma, weight: $weight, recur: $recur,
              merchants: &[$($m),*], phrases: &[$($p),*] }
    };
}

use Recur::{Monthly, No, Salary};

pub static TREE: &[Top] = &[
    Top {
        name: "Alimentação",
        kind: Kind::Expense,
        icon: "utensils",
        color: "#E4572E",
        custom: &[
            "Feira de domingo",
            "Lanches do trabalho",
            "Café da manhã",
            "Churrasco",
            "Comida do pet",
            "Marmitas",
        ],
        subs: &[
            sub!(
                "Supermercado",
                18_500,
                0.75,
                160,
                No,
                [
                    "Assaí Atacadista",
                    "Carrefour",
                    "Atacadão",
                    "Pão de Açúcar",
                    "Extra Mercado",
                    "Dia Supermercado",
                    "Sonda Supermercados",
                    "Zaffari",
                    "Savegnago",
                    "Mambo",
                    "Hirota Food",
                    "Oba Hortifruti"
                ],
                [
                    "Compras do mês",
                    "Mercado da semana",
                    "Reposição da despensa",
                    "Compras de casa"
                ]
            ),
            sub!(
                "Restaurantes",
                6_800,
                0.7,
                110,
                No,
                [
                    "Outback Steakhouse",
                    "Coco Bambu",
                    "Madero",
                    "Spoleto",
                    "Fogo de Chão",
                    "Paris 6",
                    "Divino Fogão",
                    "Restaurante Sabor Caseiro",
                    "Cantina Italiana",
                    "Temakeria Japa"
                ],
                [
                    "Almoço",
                    "Jantar fora",
                    "Almoço com a equipe",
                    "Aniversário no restaurante"
                ]
            ),
            sub!(
                "Delivery",
                5_400,
                0.55,
                120,
                No,
                [
                    "iFood",
                    "Rappi",
                    "Zé Delivery",
                    "Aiqfome",
                    "McDonald's",
                    "Burger King",
                    "Habib's",
                    "Domino's Pizza"
                ],
                [
                    "Pedido de comida",
                    "Pizza de sexta",
                    "Lanche delivery",
                    "Jantar em casa"
                ]
            ),
            sub!(
                "Padaria",
                1_900,
                0.6,
                130,
                No,
                [
                    "Padaria Pão Quente",
                    "Padaria Real",
                    "Casa do Pão de Queijo",
                    "Padaria Bella Vista",
                    "Panificadora Ipê",
                    "Starbucks",
                    "Café Cultura"
                ],
                [
                    "Pão e leite",
                    "Café da manhã",
                    "Lanche da tarde",
                    "Cafezinho"
                ]
            ),
            sub!(
                "Feira e hortifruti",
                4_200,
                0.5,
                35,
                No,
                [
                    "Feira livre",
                    "Hortifruti",
                    "Sacolão Central",
                    "Quitanda do Bairro",
                    "Ceasa"
                ],
                ["Feira", "Frutas e verduras", "Hortifruti da semana"]
            ),
        ],
    },
    Top {
        name: "Moradia",
        kind: Kind::Expense,
        icon: "house",
        color: "#3B8EA5",
        custom: &[
            "Reforma da cozinha",
            "Diarista",
            "Jardinagem",
            "Móveis novos",
            "IPTU parcelado",
        ],
        subs: &[
            sub!(
                "Aluguel",
                185_000,
                0.45,
                0,
                Monthly,
                [
                    "QuintoAndar",
                    "Imobiliária Lopes",
                    "Loft",
                    "Imobiliária Auxiliadora",
                    "Proprietário"
                ],
                ["Aluguel", "Aluguel do apartamento", "Aluguel da casa"]
            ),
            sub!(
                "Condomínio",
                72_000,
                0.45,
                0,
                Monthly,
                [
                    "Condomínio Residencial",
                    "Administradora Lello",
                    "Administradora Hubert"
                ],
                ["Condomínio", "Taxa condominial"]
            ),
            sub!(
                "Energia elétrica",
                21_000,
                0.4,
                0,
                Monthly,
                [
                    "Enel",
                    "CEMIG",
                    "Light",
                    "Copel",
                    "Neoenergia Coelba",
                    "CPFL Energia",
                    "Equatorial Energia"
                ],
                ["Conta de luz", "Energia"]
            ),
            sub!(
                "Água e esgoto",
                9_500,
                0.4,
                0,
                Monthly,
                ["Sabesp", "Copasa", "Cedae", "Sanepar", "Embasa", "Compesa"],
                ["Conta de água", "Água"]
            ),
            sub!(
                "Internet e TV",
                11_990,
                0.25,
                0,
                Monthly,
                ["Vivo Fibra", "Claro Net", "TIM Live", "Oi Fibra", "Sky"],
                ["Internet", "Internet e TV"]
            ),
            sub!(
                "Gás",
                11_500,
                0.3,
                12,
                No,
                [
                    "Ultragaz",
                    "Liquigás",
                    "Supergasbras",
                    "Comgás",
                    "Nacional Gás"
                ],
                ["Botijão de gás", "Conta de gás"]
            ),
            sub!(
                "Manutenção da casa",
                16_000,
                0.9,
                14,
                No,
                [
                    "Leroy Merlin",
                    "Telhanorte",
                    "C&C Casa e Construção",
                    "Obramax",
                    "Eletricista",
                    "Encanador"
                ],
                [
                    "Conserto em casa",
                    "Material de construção",
                    "Reparo do chuveiro"
                ]
            ),
        ],
    },
    Top {
        name: "Transporte",
        kind: Kind::Expense,
        icon: "car",
        color: "#F2A541",
        custom: &["Carro da família", "Moto", "Bicicleta", "Viagem de carro"],
        subs: &[
            sub!(
                "Combustível",
                22_000,
                0.45,
                70,
                No,
                [
                    "Shell",
                    "Ipiranga",
                    "Petrobras BR",
                    "Ale Combustíveis",
                    "Posto Graal",
                    "Posto Sete Estrelas"
                ],
                ["Gasolina", "Abastecimento", "Etanol", "Tanque cheio"]
            ),
            sub!(
                "Aplicativos de transporte",
                2_700,
                0.6,
                110,
                No,
                ["Uber", "99", "inDrive", "Cabify"],
                ["Corrida", "Uber para o trabalho", "Volta para casa"]
            ),
            sub!(
                "Transporte público",
                520,
                0.3,
                60,
                No,
                ["Bilhete Único SPTrans", "Metrô", "RioCard", "BHBus", "CPTM"],
                ["Passagem de ônibus", "Recarga do bilhete", "Metrô"]
            ),
            sub!(
                "Estacionamento",
                1_800,
                0.6,
                30,
                No,
                [
                    "Estapar",
                    "Indigo Estacionamentos",
                    "Multipark",
                    "Zona Azul Digital"
                ],
                ["Estacionamento", "Zona azul"]
            ),
            sub!(
                "Manutenção do veículo",
                38_000,
                0.9,
                6,
                No,
                [
                    "Pneu Store",
                    "Oficina Mecânica Central",
                    "Localiza Seminovos",
                    "Autocenter Pit Stop",
                    "Lava Rápido"
                ],
                [
                    "Revisão do carro",
                    "Troca de óleo",
                    "Pneus novos",
                    "Lavagem"
                ]
            ),
            sub!(
                "Pedágio",
                1_450,
                0.4,
                18,
                No,
                ["Sem Parar", "ConectCar", "Veloe", "CCR AutoBAn", "Ecovias"],
                ["Pedágio", "Tag de pedágio"]
            ),
        ],
    },
    Top {
        name: "Saúde",
        kind: Kind::Expense,
        icon: "heart-pulse",
        color: "#C1292E",
        custom: &[
            "Remédios da mãe",
            "Terapia",
            "Dentista das crianças",
            "Óculos",
        ],
        subs: &[
            sub!(
                "Farmácia",
                6_300,
                0.75,
                55,
                No,
                [
                    "Drogasil",
                    "Droga Raia",
                    "Pague Menos",
                    "Drogaria São Paulo",
                    "Panvel",
                    "Drogarias Pacheco",
                    "Farmácias Nissei"
                ],
                ["Remédios", "Farmácia", "Vitaminas"]
            ),
            sub!(
                "Plano de saúde",
                62_000,
                0.5,
                0,
                Monthly,
                [
                    "Unimed",
                    "Bradesco Saúde",
                    "SulAmérica Saúde",
                    "Amil",
                    "Hapvida",
                    "NotreDame Intermédica"
                ],
                ["Plano de saúde", "Mensalidade do plano"]
            ),
            sub!(
                "Consultas e exames",
                25_000,
                0.7,
                10,
                No,
                [
                    "Fleury",
                    "Dasa",
                    "Hermes Pardini",
                    "Clínica Sim",
                    "Dr. Consulta",
                    "Consultório particular"
                ],
                ["Consulta médica", "Exames de sangue", "Dentista"]
            ),
            sub!(
                "Academia",
                11_990,
                0.35,
                0,
                Monthly,
                [
                    "Smart Fit",
                    "Bodytech",
                    "Selfit",
                    "Bluefit",
                    "Academia do Bairro"
                ],
                ["Academia", "Mensalidade da academia"]
            ),
        ],
    },
    Top {
        name: "Educação",
        kind: Kind::Expense,
        icon: "graduation-cap",
        color: "#5B5F97",
        custom: &[
            "Material escolar",
            "Inglês das crianças",
            "Pós-graduação",
            "Uniforme",
        ],
        subs: &[
            sub!(
                "Mensalidade escolar",
                95_000,
                0.55,
                0,
                Monthly,
                [
                    "Colégio Objetivo",
                    "Colégio Positivo",
                    "Escola Anglo",
                    "Colégio Bandeirantes",
                    "Escola Municipal Parceira"
                ],
                ["Mensalidade da escola", "Escola"]
            ),
            sub!(
                "Cursos",
                19_900,
                0.8,
                6,
                No,
                [
                    "Alura",
                    "Udemy",
                    "Coursera",
                    "Wizard",
                    "CCAA",
                    "Descomplica"
                ],
                ["Curso online", "Curso de inglês", "Inscrição no curso"]
            ),
            sub!(
                "Livros e material",
                7_500,
                0.7,
                8,
                No,
                [
                    "Amazon",
                    "Livraria Cultura",
                    "Saraiva",
                    "Kalunga",
                    "Estante Virtual"
                ],
                ["Livros", "Material escolar", "Papelaria"]
            ),
        ],
    },
    Top {
        name: "Lazer",
        kind: Kind::Expense,
        icon: "ticket",
        color: "#8FC93A",
        custom: &[
            "Viagem de férias",
            "Festa de aniversário",
            "Futebol de quinta",
            "Hobby",
        ],
        subs: &[
            sub!(
                "Streaming",
                3_990,
                0.3,
                0,
                Monthly,
                [
                    "Netflix",
                    "Spotify",
                    "Amazon Prime Video",
                    "Disney+",
                    "Globoplay",
                    "Max",
                    "Deezer",
                    "YouTube Premium"
                ],
                ["Assinatura de streaming", "Streaming"]
            ),
            sub!(
                "Cinema e shows",
                7_000,
                0.7,
                16,
                No,
                [
                    "Cinemark",
                    "Ingresso.com",
                    "Sympla",
                    "Eventim",
                    "Kinoplex",
                    "UCI Cinemas"
                ],
                ["Cinema", "Show", "Ingresso"]
            ),
            sub!(
                "Bares",
                9_500,
                0.75,
                40,
                No,
                [
                    "Boteco do Zé",
                    "Bar Brahma",
                    "Choperia Pinguim",
                    "Bar da Esquina",
                    "Empório Cervejeiro"
                ],
                ["Happy hour", "Cerveja com os amigos", "Bar"]
            ),
            sub!(
                "Viagens",
                85_000,
                1.0,
                5,
                No,
                [
                    "Latam",
                    "Gol",
                    "Azul",
                    "Booking.com",
                    "Airbnb",
                    "Decolar",
                    "CVC",
                    "123milhas"
                ],
                ["Passagem aérea", "Hotel", "Hospedagem", "Viagem"]
            ),
        ],
    },
    Top {
        name: "Compras",
        kind: Kind::Expense,
        icon: "shopping-bag",
        color: "#B07BAC",
        custom: &[
            "Presentes de Natal",
            "Roupas das crianças",
            "Coisas da casa",
            "Enxoval",
        ],
        subs: &[
            sub!(
                "Vestuário",
                15_900,
                0.75,
                22,
                No,
                [
                    "Renner",
                    "Riachuelo",
                    "C&A",
                    "Shein",
                    "Centauro",
                    "Zara",
                    "Hering",
                    "Marisa",
                    "Netshoes"
                ],
                ["Roupas", "Tênis novo", "Camisetas"]
            ),
            sub!(
                "Eletrônicos",
                89_000,
                1.0,
                5,
                No,
                [
                    "Mercado Livre",
                    "Magazine Luiza",
                    "Amazon",
                    "Casas Bahia",
                    "Americanas",
                    "Fast Shop",
                    "Kabum"
                ],
                ["Celular novo", "Fone de ouvido", "Notebook", "Carregador"]
            ),
            sub!(
                "Casa e decoração",
                12_900,
                0.9,
                14,
                No,
                ["Tok&Stok", "Camicado", "Mobly", "Etna", "Havan", "Shopee"],
                ["Decoração", "Utensílios de cozinha", "Cama, mesa e banho"]
            ),
            sub!(
                "Presentes",
                11_000,
                0.8,
                9,
                No,
                [
                    "O Boticário",
                    "Natura",
                    "Amazon",
                    "Lojas Americanas",
                    "Cacau Show",
                    "Vivara"
                ],
                ["Presente de aniversário", "Lembrancinha", "Presente"]
            ),
        ],
    },
    Top {
        name: "Serviços financeiros",
        kind: Kind::Expense,
        icon: "landmark",
        color: "#6C757D",
        custom: &["Empréstimo consignado", "Consórcio", "Previdência privada"],
        subs: &[
            sub!(
                "Tarifas bancárias",
                2_490,
                0.4,
                6,
                No,
                [
                    "Banco do Brasil",
                    "Itaú Unibanco",
                    "Bradesco",
                    "Caixa Econômica Federal",
                    "Santander"
                ],
                ["Tarifa do pacote", "Tarifa bancária", "Anuidade do cartão"]
            ),
            sub!(
                "Seguros",
                14_500,
                0.6,
                0,
                Monthly,
                [
                    "Porto Seguro",
                    "Allianz",
                    "Tokio Marine",
                    "Mapfre",
                    "Azul Seguros"
                ],
                ["Seguro do carro", "Seguro residencial", "Seguro de vida"]
            ),
            sub!(
                "Impostos e taxas",
                45_000,
                1.0,
                3,
                No,
                [
                    "Receita Federal",
                    "Prefeitura Municipal",
                    "Detran",
                    "Secretaria da Fazenda"
                ],
                ["IPVA", "IPTU", "Licenciamento", "DARF"]
            ),
            sub!(
                "Telefonia celular",
                6_490,
                0.3,
                0,
                Monthly,
                ["Vivo", "Claro", "TIM", "Oi"],
                ["Conta do celular", "Plano do celular"]
            ),
        ],
    },
    Top {
        name: "Pets",
        kind: Kind::Expense,
        icon: "paw",
        color: "#A26769",
        custom: &["Ração do Thor", "Banho e tosa", "Vacinas do gato"],
        subs: &[
            sub!(
                "Pet shop",
                9_800,
                0.6,
                12,
                No,
                [
                    "Petz",
                    "Cobasi",
                    "Petlove",
                    "Pet Center Marginal",
                    "Agropet do Bairro"
                ],
                ["Ração", "Areia do gato", "Banho e tosa"]
            ),
            sub!(
                "Veterinário",
                22_000,
                0.8,
                3,
                No,
                [
                    "Hospital Veterinário Pet Care",
                    "Clínica Veterinária Amigo Fiel",
                    "Vet Center"
                ],
                ["Consulta veterinária", "Vacina do cachorro"]
            ),
        ],
    },
    Top {
        name: "Renda",
        kind: Kind::Income,
        icon: "wallet",
        color: "#2E933C",
        custom: &[
            "Aluguel recebido",
            "Vendas no Mercado Livre",
            "Aulas particulares",
            "Mesada",
        ],
        subs: &[
            sub!(
                "Salário",
                450_000,
                0.6,
                0,
                Salary,
                [
                    "Prefeitura Municipal",
                    "Governo do Estado",
                    "Itaú Unibanco",
                    "Petrobras",
                    "Magazine Luiza",
                    "Ambev",
                    "Banco do Brasil",
                    "Vale",
                    "Natura",
                    "JBS",
                    "Embraer",
                    "Totvs",
                    "Localiza",
                    "Raízen",
                    "Gerdau",
                    "Grupo Boticário",
                    "Hospital Albert Einstein",
                    "Stone Pagamentos",
                    "Nubank",
                    "Universidade de São Paulo"
                ],
                ["Salário", "Pagamento do salário"]
            ),
            sub!(
                "Freelance",
                120_000,
                0.9,
                4,
                No,
                ["Cliente PJ", "Workana", "99Freelas", "Upwork"],
                ["Freela", "Projeto entregue", "Serviço prestado"]
            ),
            sub!(
                "Rendimentos",
                8_500,
                1.1,
                3,
                No,
                [
                    "Nubank",
                    "XP Investimentos",
                    "Banco Inter",
                    "BTG Pactual",
                    "Rico"
                ],
                ["Rendimento da poupança", "Dividendos", "Rendimento CDB"]
            ),
            sub!(
                "Reembolsos",
                9_000,
                0.8,
                4,
                No,
                ["Empresa", "Mercado Pago", "PicPay", "Amigo"],
                ["Reembolso", "Devolução", "Estorno"]
            ),
        ],
    },
    Top {
        name: "Transferências",
        kind: Kind::Transfer,
        icon: "arrows-left-right",
        color: "#4D5061",
        custom: &["Poupança das férias", "Reserva de emergência"],
        subs: &[
            sub!(
                "Transferência entre contas",
                50_000,
                1.0,
                10,
                No,
                [
                    "Nubank",
                    "Itaú Unibanco",
                    "Banco Inter",
                    "Caixa Econômica Federal",
                    "C6 Bank",
                    "PicPay"
                ],
                [
                    "Transferência para poupança",
                    "Pix para minha conta",
                    "Aplicação"
                ]
            ),
            sub!(
                "Pix para terceiros",
                8_000,
                1.0,
                18,
                No,
                ["Pix", "Mercado Pago", "PicPay", "PagBank"],
                ["Pix para amigo", "Divisão da conta", "Pix da vaquinha"]
            ),
        ],
    },
];

/// Number of system categories (top levels plus subcategories).
pub fn system_category_count() -> usize {
    TREE.iter().map(|t| 1 + t.subs.len()).sum()
}

/// Cities with state, area code, time zone and a population weight (in thousands).
pub static CITIES: &[(&str, &str, u32, &str, u32)] = &[
    ("São Paulo", "SP", 11, "America/Sao_Paulo", 11_450),
    ("Rio de Janeiro", "RJ", 21, "America/Sao_Paulo", 6_211),
    ("Brasília", "DF", 61, "America/Sao_Paulo", 2_817),
    ("Fortaleza", "CE", 85, "America/Fortaleza", 2_428),
    ("Salvador", "BA", 71, "America/Bahia", 2_417),
    ("Belo Horizonte", "MG", 31, "America/Sao_Paulo", 2_315),
    ("Manaus", "AM", 92, "America/Manaus", 2_063),
    ("Curitiba", "PR", 41, "America/Sao_Paulo", 1_773),
    ("Recife", "PE", 81, "America/Recife", 1_488),
    ("Goiânia", "GO", 62, "America/Sao_Paulo", 1_437),
    ("Porto Alegre", "RS", 51, "America/Sao_Paulo", 1_332),
    ("Belém", "PA", 91, "America/Belem", 1_303),
    ("Guarulhos", "SP", 11, "America/Sao_Paulo", 1_291),
    ("Campinas", "SP", 19, "America/Sao_Paulo", 1_139),
    ("São Luís", "MA", 98, "America/Fortaleza", 1_037),
    ("Maceió", "AL", 82, "America/Maceio", 957),
    ("Campo Grande", "MS", 67, "America/Campo_Grande", 898),
    ("São Gonçalo", "RJ", 21, "America/Sao_Paulo", 896),
    ("Teresina", "PI", 86, "America/Fortaleza", 866),
    ("João Pessoa", "PB", 83, "America/Fortaleza", 833),
    ("São Bernardo do Campo", "SP", 11, "America/Sao_Paulo", 810),
    ("Duque de Caxias", "RJ", 21, "America/Sao_Paulo", 808),
    ("Nova Iguaçu", "RJ", 21, "America/Sao_Paulo", 785),
    ("Natal", "RN", 84, "America/Fortaleza", 751),
    ("Santo André", "SP", 11, "America/Sao_Paulo", 748),
    ("Osasco", "SP", 11, "America/Sao_Paulo", 728),
    ("Sorocaba", "SP", 15, "America/Sao_Paulo", 723),
    ("Uberlândia", "MG", 34, "America/Sao_Paulo", 713),
    ("Ribeirão Preto", "SP", 16, "America/Sao_Paulo", 698),
    ("São José dos Campos", "SP", 12, "America/Sao_Paulo", 697),
    ("Cuiabá", "MT", 65, "America/Cuiaba", 650),
    ("Jaboatão dos Guararapes", "PE", 81, "America/Recife", 644),
    ("Contagem", "MG", 31, "America/Sao_Paulo", 621),
    ("Joinville", "SC", 47, "America/Sao_Paulo", 616),
    ("Feira de Santana", "BA", 75, "America/Bahia", 616),
    ("Aracaju", "SE", 79, "America/Maceio", 602),
    ("Londrina", "PR", 43, "America/Sao_Paulo", 555),
    ("Juiz de Fora", "MG", 32, "America/Sao_Paulo", 540),
    ("Florianópolis", "SC", 48, "America/Sao_Paulo", 537),
    ("Porto Velho", "RO", 69, "America/Porto_Velho", 460),
    ("Vitória", "ES", 27, "America/Sao_Paulo", 322),
    ("Palmas", "TO", 63, "America/Araguaina", 302),
    ("Macapá", "AP", 96, "America/Belem", 442),
    ("Boa Vista", "RR", 95, "America/Boa_Vista", 413),
    ("Rio Branco", "AC", 68, "America/Rio_Branco", 364),
    ("Caxias do Sul", "RS", 54, "America/Sao_Paulo", 463),
    ("Maringá", "PR", 44, "America/Sao_Paulo", 409),
    ("Niterói", "RJ", 21, "America/Sao_Paulo", 481),
];

/// E-mail providers with weights.
pub static EMAIL_DOMAINS: &[(&str, u32)] = &[
    ("gmail.com", 52),
    ("hotmail.com", 15),
    ("outlook.com", 9),
    ("yahoo.com.br", 7),
    ("icloud.com", 5),
    ("uol.com.br", 5),
    ("bol.com.br", 4),
    ("terra.com.br", 3),
];

pub fn first_names() -> &'static [&'static str] {
    PT_BR::NAME_FIRST_NAME
}

pub fn last_names() -> &'static [&'static str] {
    PT_BR::NAME_LAST_NAME
}

/// Names of business contexts (owner's surname is appended).
pub static BUSINESS_NAMES: &[&str] = &[
    "Consultoria",
    "Comércio",
    "Serviços",
    "Ateliê",
    "Estúdio",
    "Doceria",
    "Oficina",
    "Loja",
];

/// Names of shared contexts by subtype.
pub static TRIP_NAMES: &[&str] = &[
    "Viagem para Floripa",
    "Réveillon em Salvador",
    "Férias em Porto Seguro",
    "Viagem a Gramado",
    "Carnaval em Olinda",
    "Mochilão no Chile",
    "Viagem para Lisboa",
    "Fim de semana em Paraty",
];
pub static HOUSEHOLD_NAMES: &[&str] = &[
    "Apartamento 302",
    "Casa da praia",
    "República Vila Madalena",
    "Apê compartilhado",
    "Casa dos estudantes",
    "Sítio da família",
];
pub static GROUP_NAMES: &[&str] = &[
    "Futebol de quinta",
    "Churrasco da turma",
    "Presente da professora",
    "Vaquinha do escritório",
    "Grupo de corrida",
    "Chá de bebê",
    "Formatura 2025",
];

/// Insight types with weights.
pub static INSIGHT_TYPES: &[(&str, u32)] = &[
    ("spending_spike", 22),
    ("budget_warning", 18),
    ("recurring_detected", 15),
    ("savings_opportunity", 15),
    ("unusual_transaction", 18),
    ("monthly_summary", 12),
];

pub static MODEL_VERSIONS: &[&str] = &[
    "fin-insights-2024.03",
    "fin-insights-2024.11",
    "fin-insights-2025.06",
];

/// Local businesses of a subcategory served by the neighbourhood rather than by national
/// brands: their names are built from a trade word and name parts, and they take
/// `share_permille` of the subcategory's non-recurring spending (the brands the rest).
pub struct LocalTrade {
    pub sub: &'static str,
    pub share_permille: u32,
    pub trades: &'static [&'static str],
}

/// Shares are set so no single merchant, brand or local, takes more than about 20% of a
/// local-led subcategory (checked by `tests/invariants.rs`); brand-led subcategories (ride
/// apps, telecoms, streaming, taxes) have no entry and stay as concentrated as in Brazil.
pub static LOCAL_TRADES: &[LocalTrade] = &[
    LocalTrade {
        sub: "Supermercado",
        share_permille: 600,
        trades: &["Mercado", "Supermercado", "Mercadinho", "Empório"],
    },
    LocalTrade {
        sub: "Restaurantes",
        share_permille: 750,
        trades: &[
            "Restaurante",
            "Cantina",
            "Churrascaria",
            "Lanchonete",
            "Pizzaria",
        ],
    },
    LocalTrade {
        sub: "Padaria",
        share_permille: 800,
        trades: &[
            "Padaria",
            "Panificadora",
            "Confeitaria",
            "Padaria e Confeitaria",
        ],
    },
    LocalTrade {
        sub: "Feira e hortifruti",
        share_permille: 800,
        trades: &["Hortifruti", "Sacolão", "Quitanda", "Banca de Frutas"],
    },
    LocalTrade {
        sub: "Condomínio",
        share_permille: 850,
        trades: &[
            "Condomínio Edifício",
            "Condomínio Residencial",
            "Condomínio Parque",
            "Condomínio Solar",
        ],
    },
    LocalTrade {
        sub: "Manutenção da casa",
        share_permille: 600,
        trades: &[
            "Depósito de Materiais",
            "Casa de Tintas",
            "Serralheria",
            "Vidraçaria",
            "Materiais de Construção",
        ],
    },
    LocalTrade {
        sub: "Manutenção do veículo",
        share_permille: 800,
        trades: &[
            "Oficina Mecânica",
            "Auto Center",
            "Funilaria",
            "Borracharia",
            "Auto Elétrica",
        ],
    },
    LocalTrade {
        sub: "Consultas e exames",
        share_permille: 650,
        trades: &["Clínica", "Consultório", "Laboratório", "Centro Médico"],
    },
    LocalTrade {
        sub: "Bares",
        share_permille: 850,
        trades: &["Bar", "Boteco", "Choperia", "Bar e Petiscaria"],
    },
    LocalTrade {
        sub: "Pet shop",
        share_permille: 600,
        trades: &["Pet Shop", "Casa de Rações", "Agropet", "Pet Center"],
    },
    LocalTrade {
        sub: "Veterinário",
        share_permille: 800,
        trades: &[
            "Clínica Veterinária",
            "Hospital Veterinário",
            "Consultório Veterinário",
        ],
    },
    LocalTrade {
        sub: "Academia",
        share_permille: 600,
        trades: &["Academia", "Studio Fitness", "Centro de Treinamento"],
    },
];

/// Name parts of local businesses, as Brazilian shop fronts read.
pub const LOCAL_NAME_PARTS: &[&str] = &[
    "São Jorge",
    "Santa Luzia",
    "Bom Jesus",
    "Aparecida",
    "Santo Antônio",
    "São José",
    "São Francisco",
    "Santa Rita",
    "do Zé",
    "da Dona Maria",
    "do Toninho",
    "do Juca",
    "da Vila",
    "do Bairro",
    "Central",
    "Primavera",
    "Estrela",
    "Estrela do Sul",
    "Nova Esperança",
    "Boa Vista",
    "Bela Vista",
    "Vista Alegre",
    "Jardim",
    "Progresso",
    "União",
    "Popular",
    "Avenida",
    "da Praça",
    "da Esquina",
    "Ipê",
    "Jacarandá",
    "Palmeiras",
    "Girassol",
    "Aurora",
    "Horizonte",
    "Sol Nascente",
    "Dois Irmãos",
    "Três Irmãos",
    "Família",
    "Paulista",
    "Carioca",
    "Mineira",
    "Gaúcha",
    "Baiana",
    "Nordeste",
    "Pantanal",
    "Serra Verde",
    "Recanto",
    "Cantinho",
    "Ponto Certo",
    "Vitória",
    "Triunfo",
    "Modelo",
    "Imperial",
    "Bandeirantes",
    "Tiradentes",
    "Ouro Preto",
    "Rio Branco",
    "Guarani",
    "Itapuã",
    "Boa Sorte",
    "Alvorada",
    "Santa Clara",
    "São Pedro",
    "São Judas",
    "Dom Bosco",
    "Santa Cecília",
    "Novo Mundo",
    "Bom Gosto",
    "Sabor da Terra",
    "Pé de Serra",
    "Beira Rio",
    "Lagoa Azul",
    "Monte Alegre",
    "Campo Belo",
    "Vale Verde",
    "Cidade Nova",
    "Santa Fé",
    "Nova Aliança",
    "Bom Retiro",
];

/// Endings, as on a sign or in a CNPJ's trade name.
pub const LOCAL_NAME_ENDINGS: &[&str] = &[
    "",
    " II",
    " Express",
    " & Filhos",
    " da Família",
    " do Centro",
    " Ltda",
    " ME",
];

/// Local businesses per trade word: every part with every ending.
pub const LOCALS_PER_TRADE: usize = LOCAL_NAME_PARTS.len() * LOCAL_NAME_ENDINGS.len();

/// Local business k of a list of `trades` trade words: indices into the trade words,
/// `LOCAL_NAME_PARTS` and `LOCAL_NAME_ENDINGS`; its name is `{trade} {part}{end}`.
/// Interleaved so a neighbourhood's run of consecutive indices mixes trades and names.
#[inline]
pub fn local_parts(trades: usize, k: usize) -> [usize; 3] {
    let j = k / trades;
    [
        k % trades,
        j % LOCAL_NAME_PARTS.len(),
        j / LOCAL_NAME_PARTS.len(),
    ]
}

/// The local trade of a subcategory, if it has one.
pub fn local_trade(sub: &str) -> Option<&'static LocalTrade> {
    LOCAL_TRADES.iter().find(|t| t.sub == sub)
}

/// `MERCHANTS[top][sub]`: the national brands, most popular first, then the local businesses
/// (none for brand-led subcategories). A transaction's merchant is an index into this list.
pub static MERCHANTS: std::sync::LazyLock<Vec<Vec<Vec<&'static str>>>> =
    std::sync::LazyLock::new(|| {
        // The local names are built into one block, in order, so the names of a neighbourhood
        // sit next to each other in memory.
        let mut block = String::new();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for top in TREE {
            for sub in top.subs {
                if let Some(t) = local_trade(sub.name) {
                    for k in 0..t.trades.len() * LOCALS_PER_TRADE {
                        let [trade, part, end] = local_parts(t.trades.len(), k);
                        let (trade, part, end) = (
                            t.trades[trade],
                            LOCAL_NAME_PARTS[part],
                            LOCAL_NAME_ENDINGS[end],
                        );
                        let at = block.len();
                        let _ = write!(block, "{trade} {part}{end}");
                        spans.push((at, block.len() - at));
                    }
                }
            }
        }
        let block: &'static str = Box::leak(block.into_boxed_str());
        let mut locals = spans.into_iter().map(|(at, len)| &block[at..at + len]);
        TREE.iter()
            .map(|top| {
                top.subs
                    .iter()
                    .map(|sub| {
                        let mut names: Vec<&'static str> = sub.merchants.to_vec();
                        if let Some(t) = local_trade(sub.name) {
                            names.extend(locals.by_ref().take(t.trades.len() * LOCALS_PER_TRADE));
                        }
                        names
                    })
                    .collect()
            })
            .collect()
    });
